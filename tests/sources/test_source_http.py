"""The HTTP source against a real local aiohttp server, through the guarded client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from tocsin.http import HttpClient
from tocsin.metrics.extract import ValueSelector, extract_value
from tocsin.metrics.sources import FetchContext, SourceError, build_source
from tocsin.settings import Settings

SECRET = "ghp_s3cr3t-t0ken-value"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    base: str
    seen: list[Seen] = field(default_factory=list)


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[Server]:
    server = Server("")

    async def record(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        server.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    # Cancel handlers whose client went away (the timeout test), so cleanup is quick.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def _fetch(
    source: dict[str, Any],
    *,
    allow_private: bool = True,
    environ: Mapping[str, str] | None = None,
) -> object:
    settings = Settings(allow_private_networks=allow_private)
    async with HttpClient(settings) as http:
        ctx = FetchContext(settings=settings, http=http, environ=environ or {})
        return await build_source(source).fetch(ctx)


def run_against(
    handler: Handler,
    source: dict[str, Any],
    **kwargs: Any,
) -> tuple[object | SourceError, list[Seen]]:
    """Fetch ``source`` (its url a path on the server); the result or the SourceError."""

    async def go() -> tuple[object | SourceError, list[Seen]]:
        async with serve(handler) as server:
            spec = dict(source, url=server.base + source.get("url", "/"))
            try:
                return await _fetch(spec, **kwargs), server.seen
            except SourceError as exc:
                return exc, server.seen

    return asyncio.run(go())


def json_reply(payload: Any, status: int = 200) -> Handler:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status)

    return handler


GITHUB_REPO = {
    "id": 1296269,
    "full_name": "octocat/Hello-World",
    "open_issues_count": 7,
    "stargazers_count": 80,
    "owner": {"login": "octocat"},
}


def test_get_json_then_selector_reads_the_value() -> None:
    result, seen = run_against(
        json_reply(GITHUB_REPO), {"type": "http", "url": "/repos/octocat/Hello-World"}
    )
    assert result == GITHUB_REPO
    assert seen[0].method == "GET" and seen[0].path == "/repos/octocat/Hello-World"
    assert seen[0].headers["Accept"] == "application/json"
    extracted = extract_value(result, ValueSelector(json_path="$.open_issues_count"))
    assert (extracted.status, extracted.value) == ("value", Decimal(7))


def test_post_sends_the_json_body() -> None:
    body = {"query": "{ viewer { login } }", "n": 1.5}
    result, seen = run_against(
        json_reply({"value": 3}),
        {"type": "http", "url": "/graphql", "method": "POST", "body": body},
    )
    assert result == {"value": 3}
    assert seen[0].method == "POST"
    assert seen[0].headers["Content-Type"] == "application/json"
    assert json.loads(seen[0].body) == body


def test_env_var_headers_are_resolved_at_fetch_time() -> None:
    source = {
        "type": "http",
        "headers": {
            "Authorization": "Bearer ${GH_TOKEN}",
            "X-Team": "$TEAM",
            "X-Price": "$$5",
            "Accept": "application/vnd.github+json",
        },
    }
    result, seen = run_against(json_reply(1), source, environ={"GH_TOKEN": SECRET, "TEAM": "core"})
    assert result == 1
    headers = seen[0].headers
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["X-Team"] == "core"
    assert headers["X-Price"] == "$5"
    assert headers["Accept"] == "application/vnd.github+json"


def test_missing_header_variable_names_the_variable() -> None:
    source = {"type": "http", "headers": {"Authorization": "Bearer ${GH_TOKEN}"}}
    result, seen = run_against(json_reply(1), source, environ={})
    assert isinstance(result, SourceError)
    assert "GH_TOKEN" in result.message and "Authorization" in result.message
    assert seen == []


def test_secrets_never_appear_in_errors() -> None:
    # A server echoing the request headers into its error page must not leak the token.
    async def echo(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text=f"boom, you sent {dict(request.headers)}")

    async def echo_html(request: web.Request) -> web.StreamResponse:
        return web.Response(text=f"<html>{request.headers['Authorization']}</html>")

    source = {
        "type": "http",
        "url": f"/x?access_token={SECRET}",
        "headers": {"Authorization": "Bearer ${GH_TOKEN}", "X-Api-Key": "literal-key-123"},
    }
    env = {"GH_TOKEN": SECRET}
    for handler in (echo, echo_html):
        result, seen = run_against(handler, source, environ=env)
        assert isinstance(result, SourceError)
        assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"
        assert SECRET not in str(result) and SECRET not in repr(result)
        assert "literal-key-123" not in str(result)
        assert "access_token" not in str(result)


def test_server_error_names_status_and_host_only() -> None:
    async def fail(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="database is down")

    result, _ = run_against(fail, {"type": "http", "url": "/api/v1/stats?token=abc123"})
    assert isinstance(result, SourceError)
    assert not result.timed_out
    assert result.message.startswith("HTTP 500 (Internal Server Error) from 127.0.0.1:")
    assert "database is down" in result.message
    assert "/api/v1" not in result.message and "abc123" not in result.message


def test_not_found_is_an_error() -> None:
    result, _ = run_against(json_reply({"message": "Not Found"}, status=404), {"type": "http"})
    assert isinstance(result, SourceError)
    assert "HTTP 404 (Not Found)" in result.message


def test_non_json_body() -> None:
    async def html(_request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>login page</html>", content_type="text/html")

    result, _ = run_against(html, {"type": "http"})
    assert isinstance(result, SourceError)
    assert result.message.startswith("response is not JSON")
    assert "text/html" in result.message and "login page" in result.message


@pytest.mark.parametrize("body", [b"", b'{"a": NaN}', b'{"a": 1'])
def test_bodies_that_are_not_json(body: bytes) -> None:
    async def reply(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json")

    result, _ = run_against(reply, {"type": "http"})
    assert isinstance(result, SourceError)
    assert result.message.startswith("response is not JSON")


def test_no_content_is_no_data() -> None:
    async def empty(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    result, _ = run_against(empty, {"type": "http"})
    assert result is None
    assert extract_value(result).status == "no_data"


def test_scalar_and_array_results() -> None:
    assert run_against(json_reply(42.5), {"type": "http"})[0] == 42.5
    assert run_against(json_reply([{"n": 1}]), {"type": "http"})[0] == [{"n": 1}]


def test_timeout() -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response(1)

    started = time.monotonic()
    result, _ = run_against(slow, {"type": "http", "timeout_seconds": 0.3})
    assert time.monotonic() - started < 3
    assert isinstance(result, SourceError)
    assert result.timed_out
    assert "timed out after 0.3s" in result.message


def test_body_size_is_capped() -> None:
    big = b"[" + b"1," * (3 * 1024 * 1024) + b"1]"

    async def huge(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=big, content_type="application/json")

    result, _ = run_against(huge, {"type": "http"})
    assert isinstance(result, SourceError)
    assert "too large" in result.message


def test_loopback_is_refused_without_allow_private_networks() -> None:
    result, seen = run_against(json_reply(1), {"type": "http"}, allow_private=False)
    assert isinstance(result, SourceError)
    assert "refused to connect to 127.0.0.1" in result.message
    assert seen == []


def test_redirect_to_a_private_address_is_refused() -> None:
    async def bounce(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    settings = Settings(allow_private_networks=False)

    async def go() -> None:
        # Open loopback only, so the first hop is allowed and the redirect is checked.
        async with (
            serve(bounce) as server,
            HttpClient(settings, allowed_networks=["127.0.0.0/8"]) as http,
        ):
            ctx = FetchContext(settings=settings, http=http, environ={})
            source = build_source({"type": "http", "url": server.base + "/"})
            with pytest.raises(SourceError, match="169.254.169.254"):
                await source.fetch(ctx)

    asyncio.run(go())
