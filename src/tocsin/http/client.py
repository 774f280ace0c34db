"""The one outbound HTTP chokepoint: every channel and HTTP metric source goes through here.

One long-lived ``aiohttp.ClientSession`` per client keeps connections alive, so a burst
of deliveries to one host reuses a pool instead of paying a TCP (and TLS) handshake each.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from tocsin import __version__
from tocsin.http.errors import (
    HttpError,
    UrlRefused,
    is_transient_status,
    parse_retry_after,
    redact_url,
)
from tocsin.http.guard import AddressPolicy, GuardedResolver, ResolveFunc, literal_ip
from tocsin.networks import IPNetwork
from tocsin.settings import Settings

USER_AGENT = f"tocsin/{__version__}"
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that authorise the caller must not follow a redirect to another origin.
_ORIGIN_BOUND_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str  # scheme and host only, safe to show

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode(_charset(self.headers), errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return jsonlib.loads(self.body)


def _charset(headers: Mapping[str, str]) -> str:
    for param in headers.get("Content-Type", "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"') or "utf-8"
    return "utf-8"


def raise_for_status(resp: HttpResponse) -> None:
    """Raise a classified HttpError unless the response is 2xx."""
    if resp.ok:
        return
    snippet = " ".join(resp.text.split())[:200]
    raise HttpError(
        f"HTTP {resp.status} from {resp.url}" + (f": {snippet}" if snippet else ""),
        transient=is_transient_status(resp.status),
        status=resp.status,
        retry_after=parse_retry_after(resp.headers.get("Retry-After")),
    )


def dump_json(obj: Any) -> bytes:
    """JSON bytes with Decimals written as exact JSON numbers (not floats, not strings);
    a non-finite Decimal, which JSON cannot hold, becomes null."""
    return orjson.dumps(obj, default=_exact_number, option=orjson.OPT_NON_STR_KEYS)


def _exact_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(_decimal_literal(value)) if value.is_finite() else None
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decimal_literal(value: Decimal) -> str:
    # normalize() would round to the context precision; trim zeros textually instead.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class HttpClient:
    """Shared outbound HTTP client with the SSRF guard, timeouts and failure classification.

    Create one per process (or per event loop) and reuse it; ``async with`` or ``close()``
    releases the pool. ``resolve`` replaces DNS (tests map names to loopback with it);
    ``allowed_networks`` opens chosen ranges on top of ``TOCSIN_ALLOWED_NETWORKS``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolve: ResolveFunc | None = None,
        allowed_networks: Iterable[str | IPNetwork] = (),
        limit: int = 1024,
        limit_per_host: int = 512,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        self._settings = settings
        self._policy = AddressPolicy.from_settings(settings, allowed_networks)
        self._resolve = resolve
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._max_body = max_body_bytes
        self._session: aiohttp.ClientSession | None = None
        self._checked: dict[str, URL] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        # A session is bound to the loop it was made on; a client reused under a new
        # loop (e.g. successive asyncio.run calls) needs a fresh one.
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=30,
                ttl_dns_cache=10,
                resolver=GuardedResolver(self._policy, self._resolve),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),
                # Proxies from the environment would connect on our behalf, bypassing
                # the resolver-level guard.
                trust_env=False,
            )
            self._loop = loop
        return self._session

    def check_url(self, url: str | URL) -> URL:
        """Validate scheme and host; refuse literal IPs the policy blocks.

        Returns the URL with numeric hosts in canonical form (``0x7f000001`` becomes
        ``127.0.0.1``), so what is connected to is what was checked.
        """
        # The same few action URLs are checked thousands of times a minute; the answer
        # depends only on the URL and this client's fixed policy. Refusals are not kept.
        if isinstance(url, str):
            checked = self._checked.get(url)
            if checked is None:
                checked = self._check_url(url)
                if len(self._checked) >= 1024:
                    self._checked.clear()
                self._checked[url] = checked
            return checked
        return self._check_url(url)

    def _check_url(self, url: str | URL) -> URL:
        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError):
            raise UrlRefused("invalid URL: could not be parsed") from None
        if parsed.scheme not in ("http", "https"):
            raise UrlRefused(f"invalid URL: expected an http(s) URL, got {redact_url(parsed)}")
        host = parsed.raw_host
        if not host:
            raise UrlRefused("invalid URL: no host")
        ip = literal_ip(host)
        if ip is None:
            if host.replace(".", "").isdigit():
                raise UrlRefused(f"invalid URL: {host} is not a valid IP address")
            return parsed
        self._policy.check(ip, host=host)
        if str(ip) != host.strip("[]"):
            return parsed.with_host(str(ip))
        return parsed

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send one request (following up to 5 redirects, each re-checked).

        Any status comes back as a response; call :func:`raise_for_status` to turn
        non-2xx into an error. Raises HttpError (UrlRefused for blocked or invalid
        URLs) for everything that yields no response. ``timeout`` bounds the whole
        exchange, redirects included.
        """
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        hdrs = dict(headers or {})
        body: bytes | None
        if json is not None:
            body = dump_json(json)
            hdrs.setdefault("Content-Type", "application/json")
        else:
            body = data.encode() if isinstance(data, str) else data
        total = timeout if timeout is not None else self._settings.http_timeout_seconds
        try:
            async with asyncio.timeout(total):
                return await self._follow(method.upper(), url, body, hdrs)
        except TimeoutError:
            raise HttpError(
                f"timed out after {total:g}s calling {redact_url(url)}", transient=True
            ) from None

    async def _follow(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> HttpResponse:
        session = self._get_session()
        current = self.check_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with session.request(
                    method, current, data=body, headers=headers, allow_redirects=False
                ) as resp:
                    location = resp.headers.get("Location")
                    payload = await self._read(resp)
                    if resp.status not in _REDIRECT_STATUSES or not location:
                        return HttpResponse(resp.status, resp.headers, payload, redact_url(current))
            except aiohttp.ClientError as exc:
                raise _classify(exc, current) from None
            try:
                target = current.join(URL(location))
            except ValueError:
                raise HttpError(
                    f"invalid redirect from {redact_url(current)}", transient=False
                ) from None
            if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if target.origin() != current.origin():
                bound = {h.lower() for h in _ORIGIN_BOUND_HEADERS}
                headers = {k: v for k, v in headers.items() if k.lower() not in bound}
            current = self.check_url(target)
        raise HttpError(
            f"too many redirects (more than {MAX_REDIRECTS}) from {redact_url(url)}",
            transient=False,
        )

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        # Endpoints are user-chosen; cap what one answer may make us hold in memory.
        if resp.content_length is not None and resp.content_length <= self._max_body:
            return await resp.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            room = self._max_body - size
            if len(chunk) > room:
                chunks.append(chunk[:room])
                resp.close()
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)


def _classify(exc: aiohttp.ClientError, url: URL) -> HttpError:
    # aiohttp messages can contain the full URL (and so tokens); build our own.
    where = redact_url(url)
    if isinstance(exc, aiohttp.InvalidURL):
        return UrlRefused(f"invalid URL: {where}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return HttpError(f"TLS certificate of {where} could not be verified", transient=False)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return HttpError(f"could not resolve the host of {where}", transient=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return HttpError(f"could not connect to {where}: {reason}", transient=True)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return HttpError(f"{where} closed the connection without answering", transient=True)
    return HttpError(f"request to {where} failed: {type(exc).__name__}", transient=True)
