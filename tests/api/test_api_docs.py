"""docs/api.md and /openapi.json against the real API.

Every route of ``app.openapi()`` has a section in docs/api.md; each section's request is
sent, with a key of the role it documents, to a real app (SQLite and PostgreSQL), and the
documented answer and the operation's OpenAPI example must have the keys and JSON types of
what comes back (IDs and timestamps are placeholders). The errors a section lists are
provoked one by one, and its 422 example must name the fields the real 422 names.

The answer blocks of docs/api.md are written from real answers: after changing a route,
``.venv/bin/python tests/api/test_api_docs.py --write`` rewrites them.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tocsin.api import schemas as ex
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.execution.embedded import RuntimeStatus
from tocsin.settings import Settings

if __name__ == "__main__":  # run as a script: tests.channels is under the checkout
    sys.path.insert(0, str(Path(__file__).parents[2]))

from api_support import make_tenant  # noqa: E402
from tests.channels.channel_support import Reply, Sink  # noqa: E402

DOCS = Path(__file__).parents[2] / "docs" / "api.md"
HOOK = "https://hooks.example.com"  # the docs' webhook host; a local sink stands in for it
MISSING = "NO_SUCH_THING"
BELOW = {"editor": "viewer", "admin": "editor"}
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

# Docs sections -----------------------------------------------------------------

_HEADING = re.compile(r"^### `(GET|POST|PATCH|DELETE) (/\S*)`[ \t]*$", re.M)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.M | re.S)
_ROLE = re.compile(r"Role: (?:`(viewer|editor|admin)`|none\b)")


@dataclass
class Section:
    method: str
    path: str
    role: str | None = None
    request: str = ""
    body: Any = None
    status: int = 0
    answer: Any = None
    answer_span: tuple[int, int] = (0, 0)
    text_answer: bool = False
    errors: set[int] = field(default_factory=set)
    invalid: Any = None
    invalid_span: tuple[int, int] = (0, 0)
    has_role: bool = False


def parse_docs(text: str) -> dict[tuple[str, str], Section]:
    heads = list(_HEADING.finditer(text))
    found: dict[tuple[str, str], Section] = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        nxt = text.find("\n## ", head.end(), end)
        end = nxt if nxt != -1 else end
        sec = Section(head.group(1), head.group(2))
        role = _ROLE.search(text, head.end(), end)
        if role:
            sec.has_role, sec.role = True, role.group(1)
        for fence in _FENCE.finditer(text, head.end(), end):
            before = text[head.end() : fence.start()].rstrip().splitlines()
            label = before[-1] if before else ""
            content = fence.group(2)
            span = (fence.start(2), fence.end(2))
            if label.startswith("Request"):
                line, _, rest = content.partition("\n")
                sec.request = line.strip()
                sec.body = json.loads(rest) if rest.strip() else None
            elif (status := re.match(r"Answer `(\d{3})`", label)) is not None:
                sec.status, sec.answer_span = int(status.group(1)), span
                sec.text_answer = fence.group(1) != "json"
                sec.answer = content if sec.text_answer else json.loads(content)
            elif label.startswith("Errors:"):
                sec.invalid, sec.invalid_span = json.loads(content), span
        errors = re.search(r"^Errors: (.*)$", text[head.end() : end], re.M)
        if errors:
            sec.errors = {int(code) for code in re.findall(r"`(\d{3})`", errors.group(1))}
        found[(sec.method, sec.path)] = sec
    return found


# Shapes --------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), type(value).__name__)


def shape_errors(
    example: Any, real: Any, where: str = "$", *, nulls_dropped: bool = False
) -> list[str]:
    """How ``example`` differs from ``real`` in keys and JSON types (null matches any type:
    a nullable field may be set in one and not in the other). ``nulls_dropped``: the
    example lost its null values, as FastAPI drops every null from /openapi.json, so a key
    the real answer holds as null may be missing."""
    if example is None or real is None:
        return []
    if isinstance(example, dict) and isinstance(real, dict):
        out = []
        more = {k for k in set(real) - set(example) if not (nulls_dropped and real[k] is None)}
        if more or set(example) - set(real):
            out.append(
                f"{where}: keys differ: the real answer has {sorted(more)} "
                f"more and {sorted(set(example) - set(real))} fewer"
            )
        for key in sorted(set(example) & set(real)):
            out += shape_errors(
                example[key], real[key], f"{where}.{key}", nulls_dropped=nulls_dropped
            )
        return out
    if isinstance(example, list) and isinstance(real, list):
        if real and not example:
            return [f"{where}: empty in the example, not in the real answer"]
        out = []
        for i, (a, b) in enumerate(zip(example, real, strict=False)):
            out += shape_errors(a, b, f"{where}[{i}]", nulls_dropped=nulls_dropped)
        return out
    if _kind(example) != _kind(real):
        return [f"{where}: {_kind(example)} in the example, {_kind(real)} in the real answer"]
    return []


# OpenAPI examples --------------------------------------------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/components/schemas/")
        resolved: dict[str, Any] = spec["components"]["schemas"][name]
        return resolved
    return schema


def content_examples(spec: dict[str, Any], content: dict[str, Any]) -> list[Any]:
    """Every example of one media type: its own, or its schema's."""
    found: list[Any] = []
    if "example" in content:
        found.append(content["example"])
    found += [e["value"] for e in content.get("examples", {}).values()]
    if not found and "schema" in content:
        found += _resolve(spec, content["schema"]).get("examples", [])
    return found


def _media(part: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    content: dict[str, Any] = part.get("content", {})
    media = "application/json" if "application/json" in content else next(iter(content), "")
    return media, content.get(media, {})


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def schema_errors(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    # The whole document as root, so that #/components/... references resolve.
    validator = jsonschema_rs.Draft202012Validator({**spec, **schema})
    return [e.message for e in validator.iter_errors(value)]


# The run -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One route's turn in the run. ``bad`` is a request the route answers with a 422;
    ``conflict`` one it answers with a 409 once the documented request succeeded;
    ``refused`` one a key of the role below answers with a 403 (default: the documented
    request); ``missing`` one it answers with a 404 (default: the path's object named
    ``NO_SUCH_THING``)."""

    method: str
    path: str
    bad: tuple[str, Any]
    conflict: tuple[str, Any] | None = None
    refused: tuple[str, Any] | None = None
    missing: str | None = None


V1 = "/api/v1"
OPEN = f"{V1}/metrics/Open%20Issues"
ALERT = f"{V1}/alerts/Notify%20if%20Issues%20%3E%205"
STEPS = [
    Step("GET", "/healthz", ("GET /healthz?verbose=1", None)),
    Step(
        "POST", f"{V1}/credentials", (f"POST {V1}/credentials", {"name": "shop-db", "value": "x"})
    ),
    Step("GET", f"{V1}/credentials", (f"GET {V1}/credentials?limit=10", None)),
    Step(
        "POST",
        f"{V1}/metrics",
        (f"POST {V1}/metrics", {"name": "Open Issues"}),
        conflict=("repeat", None),
    ),
    Step("GET", f"{V1}/metrics", (f"GET {V1}/metrics?limit=0", None)),
    Step("GET", f"{V1}/metrics/{{id}}", (f"GET {OPEN}?verbose=1", None)),
    Step(
        "PATCH",
        f"{V1}/metrics/{{id}}",
        (f"PATCH {OPEN}", {"name": None}),
        conflict=(f"PATCH {OPEN}", {"name": "Queue depth"}),
    ),
    Step(
        "POST",
        f"{V1}/alerts",
        (f"POST {V1}/alerts", {"metric_id": "Open Issues", "name": "x", "comparison_op": "above"}),
        conflict=("repeat", None),
    ),
    Step(
        "GET",
        f"{V1}/alerts",
        (f"GET {V1}/alerts?limit=501", None),
        missing=f"GET {V1}/alerts?metric_id={MISSING}",
    ),
    Step("GET", f"{V1}/alerts/{{id}}", (f"GET {ALERT}?verbose=1", None)),
    Step(
        "PATCH",
        f"{V1}/alerts/{{id}}",
        (f"PATCH {ALERT}", {"threshold_value": "lots"}),
        conflict=(f"PATCH {ALERT}", {"name": "Queue depth > 1"}),
    ),
    Step("POST", f"{V1}/metrics/{{id}}/values", (f"POST {OPEN}/values", {})),
    Step("POST", f"{V1}/metrics/{{id}}/run", (f"POST {OPEN}/run", None)),
    Step("GET", f"{V1}/metrics/{{id}}/executions", (f"GET {OPEN}/executions?cursor=x", None)),
    Step("GET", f"{V1}/alerts/{{id}}/history", (f"GET {ALERT}/history?since=yesterday", None)),
    Step("GET", f"{V1}/alerts/{{id}}/series", (f"GET {ALERT}/series?state=firing", None)),
    Step("POST", f"{V1}/alerts/{{id}}/test", (f"POST {ALERT}/test?dry_run=true", None)),
    Step("GET", f"{V1}/deliveries", (f"GET {V1}/deliveries?status=lost", None)),
    Step(
        "POST",
        f"{V1}/deliveries/{{id}}/retry",
        (f"POST {V1}/deliveries/{'x' * 101}/retry", None),
    ),
    Step(
        "POST",
        f"{V1}/alerts/{{id}}/mute",
        (f"POST {ALERT}/mute", {"for_seconds": 3600, "until": "2026-01-05T14:00:00Z"}),
    ),
    Step("POST", f"{V1}/alerts/{{id}}/unmute", (f"POST {ALERT}/unmute?for_seconds=1", None)),
    Step(
        "POST",
        f"{V1}/chat",
        (f"POST {V1}/chat", {"message": ""}),
        refused=(f"POST {V1}/chat", {"message": "Notify me if Open Issues > 5", "confirm": True}),
    ),
    Step("DELETE", f"{V1}/alerts/{{id}}", (f"DELETE {ALERT}?force=true", None)),
    Step("DELETE", f"{V1}/metrics/{{id}}", (f"DELETE {OPEN}?force=true", None)),
    Step("DELETE", f"{V1}/credentials/{{name}}", (f"DELETE {V1}/credentials/shop-db", None)),
    Step("GET", "/metrics", ("GET /metrics?verbose=1", None)),
]


@dataclass
class Run:
    client: TestClient
    keys: dict[str, dict[str, str]]
    sink: Sink
    started: datetime
    # Real IDs → the placeholders the docs and schemas.py show.
    ids: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    invalid: dict[tuple[str, str], Any] = field(default_factory=dict)

    def send(self, request: str, body: Any, role: str | None) -> Any:
        method, _, target = request.partition(" ")
        for real, shown in self.ids.items():
            target = target.replace(shown, real)
        if body is not None:
            body = json.loads(json.dumps(body).replace(HOOK, self.sink.url))
        headers = self.keys[role] if role else {}
        return self.client.request(method, target, json=body, headers=headers)

    def expect(self, what: str, resp: Any, status: int) -> bool:
        if resp.status_code != status:
            self.failures.append(f"{what}: expected {status}, got {resp.status_code} {resp.text}")
            return False
        return True

    def placeholder(self, real: str, shown: str) -> None:
        self.ids.setdefault(real, shown)

    def normalise(self, value: Any) -> Any:
        """A real answer as the docs show it: placeholder IDs, times from T0, the docs'
        webhook host."""
        if isinstance(value, dict):
            return {k: self.normalise(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.normalise(v) for v in value]
        if not isinstance(value, str):
            return value
        text = value.replace(self.sink.url, HOOK)
        text = _UUID.sub(lambda m: self._uuid(m.group(0)), text)
        text = _TIME.sub(lambda m: self._time(m.group(0)), text)
        return _SHORT_TIME.sub(
            lambda m: self._time(m.group(0))[:16].replace("T", " ") + " UTC", text
        )

    def _uuid(self, real: str) -> str:
        if real not in self.ids:
            self.ids[real] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tocsin-docs-{len(self.ids)}"))
        return self.ids[real]

    def _time(self, real: str) -> str:
        moment = datetime.fromisoformat(real.replace("Z", "+00:00").replace(" UTC", "+00:00"))
        offset = round((moment - self.started).total_seconds())
        return (T0 + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
_SHORT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")  # as the chat writes times


def _setup(run: Run, step: Step) -> None:
    """What a step needs that an earlier documented request did not make."""
    editor, c = run.keys["editor"], run.client
    if step.path == f"{V1}/credentials" and step.method == "POST":
        # A second metric, to run (push metrics take values instead) and to collide with.
        metric = {"name": "Queue depth", "source": {"type": "demo"}}
        metric["schedule"] = {"every_seconds": 300}
        assert c.post(f"{V1}/metrics", json=metric, headers=editor).is_success
        alert = {"metric_id": "Queue depth", "name": "Queue depth > 1", "comparison_op": "gt"}
        hook = {"type": "webhook", "url": f"{run.sink.url}/queue", "secret": "s3cr3t"}
        alert |= {"threshold_value": 1, "action_config": hook}
        assert c.post(f"{V1}/alerts", json=alert, headers=editor).is_success
    if step.path.endswith("/retry"):
        # A delivery to retry: the receiver refuses a test notification once.
        run.sink.reply(Reply(500, "try later"))
        sent = c.post(f"{ALERT}/test", headers=editor).json()
        run.ids[sent[0]["id"]] = ex.DELIVERY_ID


def _after(run: Run, step: Step, answer: Any) -> None:
    """Placeholders for what a documented request made, as schemas.py names them."""
    if step.method == "POST" and step.path == f"{V1}/metrics":
        run.placeholder(answer["id"], ex.METRIC_ID)
        run.placeholder(answer["org_id"], ex.ORG_ID)
    elif step.method == "POST" and step.path == f"{V1}/alerts":
        run.placeholder(answer["id"], ex.ALERT_ID)
    elif step.path.endswith("/values"):
        run.placeholder(answer["execution"]["id"], ex.EXECUTION_ID)
        run.placeholder(answer["evaluations"][0]["id"], ex.HISTORY_ID)


def _errors_of(step: Step, sec: Section) -> set[int]:
    out = {422}
    if step.path.startswith(V1):
        out.add(401)
    if sec.role in BELOW or step.refused:
        out.add(403)
    if "{" in step.path or step.missing:
        out.add(404)
    if step.conflict:
        out.add(409)
    return out


def _missing(step: Step, sec: Section) -> str:
    if step.missing:
        return step.missing
    at = next(i for i, p in enumerate(step.path.split("/")) if p.startswith("{"))
    path, _, query = sec.request.partition(" ")[2].partition("?")
    parts = path.split("/")
    parts[at] = MISSING
    return f"{sec.method} {'/'.join(parts)}" + (f"?{query}" if query else "")


def _check_step(run: Run, spec: dict[str, Any], step: Step, sec: Section) -> None:
    what = f"{step.method} {step.path}"
    if sec.errors != _errors_of(step, sec):
        run.failures.append(
            f"{what}: docs list errors {sorted(sec.errors)}, the route gives "
            f"{sorted(_errors_of(step, sec))}"
        )
    op = spec["paths"][step.path][step.method.lower()]
    undocumented = {str(code) for code in sec.errors} - set(op["responses"])
    if undocumented:
        run.failures.append(f"{what}: OpenAPI has no response for {sorted(undocumented)}")
    if 401 in sec.errors:
        run.expect(f"{what} without a key", run.send(sec.request, sec.body, None), 401)
    if sec.role in BELOW:
        request, body = step.refused or (sec.request, sec.body)
        run.expect(f"{what} as {BELOW[sec.role]}", run.send(request, body, BELOW[sec.role]), 403)
    elif step.refused:
        run.expect(f"{what} as {sec.role}", run.send(*step.refused, sec.role), 403)
    if 404 in sec.errors:
        run.expect(
            f"{what} on a missing object", run.send(_missing(step, sec), sec.body, sec.role), 404
        )
    bad = run.send(*step.bad, sec.role)
    if run.expect(f"{what} with bad input", bad, 422):
        run.invalid[(step.method, step.path)] = run.normalise(bad.json())
        if sec.invalid is None:
            run.failures.append(f"{what}: the docs give no 422 example")
        else:
            documented = [(e.get("field"), type(e.get("message"))) for e in sec.invalid["detail"]]
            real = [(e["field"], str) for e in bad.json()["detail"]]
            if documented != real:
                run.failures.append(f"{what}: the 422 example names {documented}, real {real}")
    resp = run.send(sec.request, sec.body, sec.role)
    if not run.expect(f"{what} as documented", resp, sec.status):
        return
    if sec.text_answer:
        run.answers[(step.method, step.path)] = resp.text
        for line in sec.answer.splitlines():
            if line.startswith("# TYPE") and line not in resp.text:
                run.failures.append(f"{what}: no {line!r} in the real answer")
    else:
        answer = resp.json()
        _after(run, step, answer)
        shown = run.normalise(answer)
        run.answers[(step.method, step.path)] = shown
        for problem in shape_errors(sec.answer, answer):
            run.failures.append(f"{what}: docs/api.md: {problem}; real: {json.dumps(shown)}")
        _, content = _media(op["responses"].get(str(sec.status), {}))
        for example in content_examples(spec, content):
            for problem in shape_errors(example, answer, nulls_dropped=True):
                run.failures.append(
                    f"{what}: OpenAPI example: {problem}; real: {json.dumps(shown)}"
                )
    if step.conflict:
        request, body = step.conflict
        if request == "repeat":
            request, body = sec.request, sec.body
        run.expect(f"{what} on a taken name", run.send(request, body, sec.role), 409)


def run_all(app: FastAPI, db: Database, sink: Sink) -> tuple[Run, dict[tuple[str, str], Section]]:
    sections = parse_docs(DOCS.read_text())
    keys = {role: make_tenant(db, "acme", role).headers for role in ("viewer", "editor", "admin")}
    with TestClient(app) as client:
        run = Run(client, keys, sink, datetime.now(UTC))
        spec = app.openapi()
        for step in STEPS:
            sec = sections.get((step.method, step.path))
            if sec is None:
                run.failures.append(f"{step.method} {step.path}: no section in docs/api.md")
                continue
            _setup(run, step)
            _check_step(run, spec, step, sec)
    return run, sections


def make_app(db: Database, settings: Settings) -> FastAPI:
    status = RuntimeStatus(started_at=datetime.now(UTC), last_tick_at=datetime.now(UTC))
    return create_app(db, settings, runner_status=status.public, ui_bind_host=None)


# Tests ---------------------------------------------------------------------------


@pytest.fixture
def docs_app(db: Database, api_settings: Settings) -> FastAPI:
    return make_app(db, api_settings)


def test_every_route_has_a_section_and_a_step(docs_app: FastAPI) -> None:
    sections = parse_docs(DOCS.read_text())
    routes = {(m, p) for m, p, _ in operations(docs_app.openapi())}
    assert routes - set(sections) == set(), "routes without a section in docs/api.md"
    assert set(sections) - routes == set(), "sections in docs/api.md for no route"
    assert routes == {(s.method, s.path) for s in STEPS}, "routes this test does not run"
    for sec in sections.values():
        assert sec.has_role, f"{sec.method} {sec.path}: no 'Role:' line"
        assert sec.request.split("?")[0].count("/") == sec.path.count("/"), sec.request
        assert sec.status and sec.answer is not None, f"{sec.method} {sec.path}: no answer"


def test_openapi_operations_carry_examples_that_fit_their_schemas(docs_app: FastAPI) -> None:
    spec = docs_app.openapi()
    sections = parse_docs(DOCS.read_text())
    problems: list[str] = []
    for method, path, op in operations(spec):
        what = f"{method} {path}"
        sec = sections.get((method, path))
        if "requestBody" in op:
            _, content = _media(op["requestBody"])
            examples = content_examples(spec, content)
            if not examples:
                problems.append(f"{what}: no request example")
            if sec is not None and sec.body not in examples:
                problems.append(f"{what}: the docs' request body is not an OpenAPI example")
            for example in examples:
                for error in schema_errors(spec, content["schema"], example):
                    problems.append(f"{what}: request example {example}: {error}")
        elif sec is not None and sec.body is not None:
            problems.append(f"{what}: the docs send a body the route does not take")
        for status, answer in op["responses"].items():
            if not status.startswith("2"):
                continue
            media, content = _media(answer)
            examples = content_examples(spec, content)
            if not examples:
                problems.append(f"{what}: no example for {status}")
            for example in examples if "schema" in content else []:
                for error in schema_errors(spec, content["schema"], example):
                    problems.append(f"{what}: {status} example: {error}")
    assert not problems, "\n".join(problems)


def test_documented_requests_answer_as_documented(
    docs_app: FastAPI, db: Database, sink: Sink
) -> None:
    run, _ = run_all(docs_app, db, sink)
    assert not run.failures, "\n".join(run.failures)


# Writing the docs' answers from real ones --------------------------------------


def _compact(value: Any, indent: int = 0, width: int = 88) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k)}: {_compact(v, indent + 2, width)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _compact(v, indent + 2, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def write_docs() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/docs.db"
        db = Database(url)
        db.ensure_schema()
        settings = Settings(
            database_url=url,
            allow_private_networks=True,
            public_url="https://tocsin.example",
            delivery_max_attempts=2,
        )
        sink = Sink().start()
        try:
            run, sections = run_all(make_app(db, settings), db, sink)
        finally:
            sink.stop()
            db.dispose()
    text = DOCS.read_text()
    edits: list[tuple[tuple[int, int], str]] = []
    for key, sec in sections.items():
        if key in run.answers and sec.text_answer:
            # Tocsin's own families; counts depend on what the process did before.
            lines = [
                line
                for line in run.answers[key].splitlines()
                if "tocsin_" in line and not re.search(r"_(created|bucket)\b", line)
            ]
            edits.append((sec.answer_span, "\n".join(lines) + "\n"))
        elif key in run.answers:
            edits.append((sec.answer_span, _compact(run.answers[key]) + "\n"))
        if key in run.invalid and sec.invalid is not None:
            edits.append((sec.invalid_span, json.dumps(run.invalid[key]) + "\n"))
    for (start, end), new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    DOCS.write_text(text)
    print("\n".join(run.failures) or "docs/api.md: answers written")


if __name__ == "__main__" and "--write" in sys.argv:
    write_docs()
