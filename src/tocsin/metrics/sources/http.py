"""A JSON endpoint fetched over HTTP through Tocsin's guarded client.

Header values may name a credential of the metric's org (``Bearer ${cred:GITHUB_TOKEN}``)
or an environment variable the operator allowed in ``TOCSIN_SOURCE_ENV_ALLOW``
(``${TOKEN}``, ``$TOKEN``; ``$$`` is a literal ``$``), resolved at fetch time so tokens
never sit in the database.
Error messages show the host only (paths and queries carry tokens) and have every
header value that could be a secret blanked out.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from yarl import URL

from tocsin.http import HttpError, HttpResponse, redact_url
from tocsin.metrics.sources.base import (
    FetchContext,
    Reference,
    Source,
    SourceConfig,
    SourceError,
    register,
)

MAX_BODY_BYTES = 5 * 1024 * 1024
# The guarded client bounds the exchange itself too; ours must fire first so a slow
# endpoint is reported as a timeout (timed_out=True), not as a generic HTTP error.
_CLIENT_TIMEOUT_MARGIN = 1.0
_SNIPPET_CHARS = 120
# Shorter header values are not credentials, and blanking them would garble messages.
_MIN_SECRET_CHARS = 4

_VAR_REF = re.compile(
    r"\$(?:\{cred:(?P<cred>[A-Za-z_][A-Za-z0-9_]*)\}"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<dollar>\$))"
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HttpConfig(SourceConfig):
    type: Literal["http"] = "http"
    url: str = Field(max_length=2000)
    method: Literal["GET", "POST"] = "GET"
    body: Any = None
    # Values may name environment variables as ${VAR}: the secret is read at run time.
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if any(c in text for c in "\r\n\0"):
                raise ValueError(f"header {name}: line breaks are not allowed in a value")
            leftover = _VAR_REF.sub("", text)
            if "${" in leftover:
                raise ValueError(
                    f"header {name}: expected ${{cred:NAME}} naming a credential such as "
                    "API_TOKEN, or ${VAR} (write $$ for a literal $)"
                )
        return value

    def references(self) -> list[Reference]:
        found = []
        for header, text in self.headers.items():
            for match in _VAR_REF.finditer(text):
                if match.group("cred"):
                    found.append(
                        Reference(f"source.headers.{header}", "credential", match.group("cred"))
                    )
                elif not match.group("dollar"):
                    name = match.group("braced") or match.group("bare")
                    found.append(Reference(f"source.headers.{header}", "env", name))
        return found

    @field_validator("body")
    @classmethod
    def _body_needs_post(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("method") != "POST":
            raise ValueError("a request body needs method POST")
        return value


def resolve_header(value: str, ctx: FetchContext, header: str) -> tuple[str, list[str]]:
    """``value`` with its references replaced; also the values substituted."""
    used: list[str] = []
    where = f"header {header}"

    def substitute(match: re.Match[str]) -> str:
        if match.group("dollar"):
            return "$"
        if match.group("cred"):
            name = match.group("cred")
            found, what = ctx.credential(name, where), f"credential {name}"
        else:
            name = match.group("braced") or match.group("bare")
            found, what = ctx.env(name, where), f"environment variable {name}"
        if any(c in found for c in "\r\n\0"):
            raise SourceError(f"{what} (used in {where}) contains a line break")
        used.append(found)
        return found

    return _VAR_REF.sub(substitute, value), used


@register
class HttpSource(Source):
    type = "http"
    Config = HttpConfig

    async def fetch(self, ctx: FetchContext) -> object:
        config = self.config
        assert isinstance(config, HttpConfig)
        where = _host(config.url)
        headers: dict[str, str] = {}
        secrets: list[str] = _url_secrets(config.url)
        for name, value in config.headers.items():
            resolved, used = resolve_header(value, ctx, name)
            headers[name] = resolved
            secrets += [value, resolved, *used]
        if not any(name.lower() == "accept" for name in headers):
            headers["Accept"] = "application/json"
        timeout = config.timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                resp = await ctx.http.request(
                    config.method,
                    config.url,
                    json=config.body if config.method == "POST" else None,
                    headers=headers,
                    timeout=timeout + _CLIENT_TIMEOUT_MARGIN,
                )
        except TimeoutError:
            raise SourceError(
                f"timed out after {timeout:g}s waiting for {where}", timed_out=True
            ) from None
        except HttpError as exc:
            raise SourceError(_scrub(exc.message, secrets)) from None
        return _read_json(resp, secrets)


def _host(url: str) -> str:
    # Scheme, host and port only: paths and queries often carry tokens.
    return redact_url(url).partition("://")[2] or "<invalid URL>"


def _url_secrets(url: str) -> list[str]:
    """What of the URL an endpoint may echo that is a token: the whole URL, its password
    and its query values (``?api_key=...``). Errors name the host only already."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return [url]
    return [url, *(v for v in (parsed.password, *parsed.query.values()) if v)]


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, "***")
    return text


def _snippet(resp: HttpResponse, secrets: Iterable[str]) -> str:
    text = " ".join(resp.text.split())
    cut = text[:_SNIPPET_CHARS] + ("…" if len(text) > _SNIPPET_CHARS else "")
    return _scrub(cut, secrets)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _read_json(resp: HttpResponse, secrets: list[str]) -> object:
    where = _host(resp.url)
    if not resp.ok:
        try:
            phrase = f" ({HTTPStatus(resp.status).phrase})"
        except ValueError:
            phrase = ""
        snippet = _snippet(resp, secrets)
        raise SourceError(
            f"HTTP {resp.status}{phrase} from {where}" + (f": {snippet}" if snippet else "")
        )
    if resp.status == HTTPStatus.NO_CONTENT:
        return None
    declared = resp.headers.get("Content-Length", "")
    if len(resp.body) > MAX_BODY_BYTES or (
        declared.isdigit() and int(declared) > min(len(resp.body), MAX_BODY_BYTES)
    ):
        size = int(declared) if declared.isdigit() else len(resp.body)
        raise SourceError(
            f"response from {where} is too large ({size} bytes; at most "
            f"{min(len(resp.body), MAX_BODY_BYTES)} are read)"
        )
    if not resp.body.strip():
        raise SourceError(f"response is not JSON: the body from {where} is empty")
    try:
        return json.loads(resp.body, parse_constant=_reject_constant)
    except RecursionError:
        raise SourceError(f"response from {where} is nested too deeply to read") from None
    except ValueError:
        kind = resp.headers.get("Content-Type", "no Content-Type").split(";")[0]
        raise SourceError(
            f"response is not JSON ({kind} from {where}): {_snippet(resp, secrets)}"
        ) from None
