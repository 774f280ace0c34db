"""Exception handlers: every error becomes a small JSON body, never a stack trace.

Bad input is a 422 ``{"detail": [{"field": ..., "message": ...}]}`` naming each field
and what was expected; other errors are ``{"detail": "..."}``. Messages are built from
field locations and pydantic's own wording, never from the input, which may hold a
secret.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.errors import Conflict, InvalidInput, NotFound, RoleRefused

logger = logging.getLogger("tocsin.api")

# Where FastAPI found the bad input; the field name alone is what a client needs.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def field_name(loc: Sequence[Any]) -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _SOURCES:
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and ("[" in part or part.startswith("function-")):
            # A union member's tag such as "list[dict[str,any]]": not a field.
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or str(loc[0] if loc else "body")


def message_for(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "json_invalid":
        return "expected a JSON body"
    msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    # Pydantic says "Input should be a valid integer"; the contract says what was expected.
    return (
        "expected " + msg.removeprefix("Input should be ")
        if msg.startswith("Input should be ")
        else msg
    )


def unprocessable(errors: list[tuple[str, str]]) -> JSONResponse:
    seen: list[dict[str, str]] = []
    for field, message in errors:
        item = {"field": field, "message": message}
        if item not in seen:
            seen.append(item)
    return JSONResponse({"detail": seen}, status_code=422)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return unprocessable(
        [
            # A JSON syntax error's location is a character offset, not a field.
            ("body" if e.get("type") == "json_invalid" else field_name(e["loc"]), message_for(e))
            for e in exc.errors()
        ]
    )


def _precise(field: str, message: str) -> tuple[str, str]:
    """``("action_config", "action_config.type: expected ...")`` → the inner field."""
    inner, sep, rest = message.partition(": ")
    nested = inner.startswith(field) and inner[len(field) : len(field) + 1] in (".", "[")
    if sep and nested and " " not in inner:
        return inner, rest
    return field, message


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return unprocessable([_precise(f, m) for f, m in exc.errors])


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot decode; the contract says bad input is 422.
        if "digits" in str(exc.__cause__):
            # Python refuses integers of over 4300 digits while decoding the JSON.
            return unprocessable([("body", "too many digits in a number")])
        return unprocessable([("body", "expected a JSON body in UTF-8")])
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers or None
    )


# user:password@ in any URL an exception message quotes (drivers quote connection strings).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@")


def safe_description(exc: BaseException) -> str:
    """The error without SQL parameters, which may carry secrets from action configs,
    and without the password of any URL it quotes."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        text = f"{type(exc).__name__} from {type(exc.orig).__name__}: {exc.orig}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub_urls(text)


def scrub_urls(text: str) -> str:
    return _URL_PASSWORD.sub(r"\g<head>:***@", text)


def log_unexpected(method: str, path: str, exc: BaseException) -> None:
    # Frames only (file, line, code): a full traceback would repeat the message, and
    # format_tb never prints local variables.
    frames = scrub_urls("".join(traceback.format_tb(exc.__traceback__)))
    logger.error(
        "unhandled error on %s %s: %s\n%s", method, path, safe_description(exc), frames.rstrip()
    )


class CatchAll:
    """Turn any unhandled exception into a plain 500.

    Starlette's own last-resort handler re-raises after answering, so the server would
    log the exception's full text, SQL parameters (and so secrets) included; this one
    stops it here and logs a safe description.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(scope.get("method", "?"), scope.get("path", "?"), exc)
            if started:
                # Too late for a clean answer; the server closes the connection.
                return
            body = {"detail": "internal error; the server logged it"}
            await JSONResponse(body, status_code=500)(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(RoleRefused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http)
