from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tocsin.http import (
    AddressPolicy,
    GuardedResolver,
    HttpClient,
    HttpError,
    UrlRefused,
    parse_retry_after,
    raise_for_status,
    refusal_reason,
)

from .channel_support import Recorded, Reply, Sink, local_settings


def hosts(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        return mapping[host]

    return resolve


LOOPBACK_NAME = {"alerts.example.com": ["127.0.0.1"], "other.example.com": ["127.0.0.1"]}


async def _get(client: HttpClient, url: str) -> int:
    return (await client.request("GET", url)).status


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("alerts.example.com", "127.0.0.1"),
    ],
)
def test_loopback_targets_are_refused_before_connecting(sink: Sink, host: str, shown: str) -> None:
    url = f"http://{host}:{sink.port}/hook"

    # "localhost" goes through real DNS; the example name through the injected mapping.
    resolve = hosts(LOOPBACK_NAME) if host.endswith(".example.com") else None

    async def go() -> None:
        async with HttpClient(local_settings(allow_private_networks=False), resolve=resolve) as c:
            with pytest.raises(UrlRefused) as info:
                await c.request("POST", url, json={"x": 1})
        err = info.value
        assert err.transient is False
        assert shown in err.message
        assert "TOCSIN_ALLOW_PRIVATE_NETWORKS" in err.message

    asyncio.run(go())
    assert sink.requests == []


def test_ipv6_loopback_refused(sink6: Sink) -> None:
    async def go() -> None:
        async with HttpClient(local_settings(allow_private_networks=False)) as c:
            with pytest.raises(UrlRefused, match="::1"):
                await c.request("GET", f"{sink6.url}/")

    asyncio.run(go())
    assert sink6.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",  # 169.254.169.254 in hex
        "http://[fe80::1]/",
        "http://[::ffff:10.0.0.5]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_private_literal_urls_are_refused_without_network(url: str) -> None:
    # check_url is what request() runs first; calling it directly keeps these
    # non-loopback addresses free of any traffic even if the guard regressed.
    client = HttpClient(local_settings(allow_private_networks=False))
    with pytest.raises(UrlRefused, match="TOCSIN_ALLOW_PRIVATE_NETWORKS"):
        client.check_url(url)


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["169.254.169.254"], ["93.184.216.34", "192.168.1.10"], ["fd00::1"]],
)
def test_resolver_refuses_names_resolving_to_private_addresses(addresses: list[str]) -> None:
    resolver = GuardedResolver(AddressPolicy(), hosts({"intranet.example.com": addresses}))

    async def go() -> None:
        with pytest.raises(UrlRefused, match="intranet.example.com resolves to it"):
            await resolver.resolve("intranet.example.com", 443)

    asyncio.run(go())


def test_resolver_passes_public_addresses() -> None:
    resolver = GuardedResolver(AddressPolicy(), hosts({"api.example.com": ["93.184.216.34"]}))
    result = asyncio.run(resolver.resolve("api.example.com", 443))
    assert [r["host"] for r in result] == ["93.184.216.34"]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "non-public"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:5", "private"),  # NAT64 wrapping 10.0.0.5
        ("::ffff:0:a9fe:a9fe", "link-local"),  # IPv4-translated 169.254.169.254
        ("64:ff9b:1::a9fe:a9fe", "link-local"),  # local-use NAT64
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
    ],
)
def test_refusal_reasons(address: str, reason: str | None) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_allow_private_networks_allows_private_but_never_link_local() -> None:
    policy = AddressPolicy(allow_private=True)
    for address in ("10.0.0.5", "::1", "127.0.0.1"):
        policy.check(ipaddress.ip_address(address), host=address)
    for address in ("169.254.169.254", "fe80::1"):
        with pytest.raises(UrlRefused, match="always blocked"):
            policy.check(ipaddress.ip_address(address), host=address)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "alerts.example.com"]
)
def test_loopback_targets_allowed_when_private_networks_allowed(sink: Sink, host: str) -> None:
    resolve = hosts(LOOPBACK_NAME) if host.endswith(".example.com") else None

    async def go() -> int:
        async with HttpClient(local_settings(), resolve=resolve) as c:
            return await _get(c, f"http://{host}:{sink.port}/ok")

    assert asyncio.run(go()) == 200
    assert [r.path for r in sink.requests] == ["/ok"]


def test_ipv6_loopback_allowed_when_private_networks_allowed(sink6: Sink) -> None:
    async def go() -> int:
        async with HttpClient(local_settings()) as c:
            return await _get(c, f"{sink6.url}/v6")

    assert asyncio.run(go()) == 200
    assert len(sink6.requests) == 1


def redirect_to(location: str, status: int = 302) -> Reply:
    return Reply(status, "", {"Location": location})


def test_redirect_to_refused_address_is_rechecked(sink: Sink, sink6: Sink) -> None:
    sink.reply(redirect_to(f"{sink6.url}/internal"), redirect_to(f"http://0x7f000002:{sink.port}/"))

    async def go() -> None:
        # Only 127.0.0.1 is opened; every other loopback address stays blocked.
        settings = local_settings(allow_private_networks=False)
        async with HttpClient(settings, allowed_networks=["127.0.0.1/32"]) as c:
            with pytest.raises(UrlRefused, match="::1"):
                await c.request("GET", f"{sink.url}/start")
            with pytest.raises(UrlRefused, match="127.0.0.2"):
                await c.request("GET", f"{sink.url}/start")

    asyncio.run(go())
    assert [r.path for r in sink.requests] == ["/start", "/start"]
    assert sink6.requests == []


def test_redirects_followed_with_method_rules(sink: Sink) -> None:
    sink.reply(redirect_to("/second", 307), redirect_to("/third", 303))

    async def go() -> int:
        async with HttpClient(local_settings()) as c:
            resp = await c.request("POST", f"{sink.url}/first", data=b"payload")
            return resp.status

    assert asyncio.run(go()) == 200
    assert [(r.method, r.path, r.body) for r in sink.requests] == [
        ("POST", "/first", b"payload"),
        ("POST", "/second", b"payload"),  # 307 keeps method and body
        ("GET", "/third", b""),  # 303 turns into GET
    ]


def test_authorization_not_forwarded_to_another_host(sink: Sink) -> None:
    sink.reply(
        redirect_to(f"{sink.url}/same-origin"),
        redirect_to(f"http://other.example.com:{sink.port}/elsewhere"),
    )

    async def go() -> None:
        async with HttpClient(local_settings(), resolve=hosts(LOOPBACK_NAME)) as c:
            await c.request("GET", f"{sink.url}/a", headers={"Authorization": "Bearer xoxb-1"})

    asyncio.run(go())
    auth = [(r.path, r.headers.get("Authorization")) for r in sink.requests]
    assert auth == [
        ("/a", "Bearer xoxb-1"),
        ("/same-origin", "Bearer xoxb-1"),
        ("/elsewhere", None),
    ]


def test_redirect_loop_stops_after_five_hops(sink: Sink) -> None:
    sink.default = redirect_to("/loop")

    async def go() -> HttpError:
        async with HttpClient(local_settings()) as c:
            with pytest.raises(HttpError) as info:
                await c.request("GET", f"{sink.url}/loop")
            return info.value

    err = asyncio.run(go())
    assert "too many redirects" in err.message
    assert err.transient is False
    assert len(sink.requests) == 6


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (500, True),
        (502, True),
        (503, True),
        (408, True),
        (429, True),
        (400, False),
        (401, False),
        (404, False),
        (410, False),
    ],
)
def test_status_classification(sink: Sink, status: int, transient: bool) -> None:
    sink.reply(Reply(status, "nope"))

    async def go() -> HttpError:
        async with HttpClient(local_settings()) as c:
            resp = await c.request("GET", f"{sink.url}/x")
            with pytest.raises(HttpError) as info:
                raise_for_status(resp)
            return info.value

    err = asyncio.run(go())
    assert (err.status, err.transient) == (status, transient)
    assert f"HTTP {status}" in err.message


def test_retry_after_seconds_and_date(sink: Sink) -> None:
    sink.reply(
        Reply(429, "slow down", {"Retry-After": "7"}),
        Reply(503, "", {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
    )

    async def go() -> list[HttpError]:
        errors = []
        async with HttpClient(local_settings()) as c:
            for _ in range(2):
                try:
                    raise_for_status(await c.request("GET", f"{sink.url}/x"))
                except HttpError as exc:
                    errors.append(exc)
        return errors

    first, second = asyncio.run(go())
    assert first.retry_after == 7.0
    assert second.retry_after is not None and second.retry_after > 86400


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_connection_refused_is_transient() -> None:
    from .channel_support import free_port

    async def go() -> HttpError:
        async with HttpClient(local_settings()) as c:
            with pytest.raises(HttpError) as info:
                await c.request("GET", f"http://127.0.0.1:{free_port()}/x")
            return info.value

    err = asyncio.run(go())
    assert err.transient is True and err.status is None
    assert "could not connect" in err.message


def test_timeout_is_transient(sink: Sink) -> None:
    sink.reply(Reply(200, "late", delay=2.0))

    async def go() -> HttpError:
        async with HttpClient(local_settings()) as c:
            with pytest.raises(HttpError) as info:
                await c.request("GET", f"{sink.url}/slow", timeout=0.3)
            return info.value

    err = asyncio.run(go())
    assert err.transient is True
    assert "timed out after 0.3s" in err.message


@pytest.mark.parametrize("url", ["ftp://user:pw@files.example.com/x", "not a url", "http:///path"])
def test_invalid_urls_are_permanent(url: str) -> None:
    async def go() -> UrlRefused:
        async with HttpClient(local_settings()) as c:
            with pytest.raises(UrlRefused) as info:
                await c.request("GET", url)
            return info.value

    err = asyncio.run(go())
    assert err.transient is False
    assert "invalid URL" in err.message
    assert "pw" not in err.message


def test_error_messages_keep_only_scheme_and_host(sink: Sink) -> None:
    sink.reply(Reply(500, "boom"))
    url = f"{sink.url}/services/T000/B000/sekrit-token?key=hunter2"

    async def go() -> list[str]:
        messages = []
        async with HttpClient(local_settings()) as c:
            try:
                raise_for_status(await c.request("POST", url))
            except HttpError as exc:
                messages.append(exc.message)
            try:
                await c.request("POST", url.replace(str(sink.port), "1"))
            except HttpError as exc:
                messages.append(exc.message)
        return messages

    messages = asyncio.run(go())
    assert len(messages) == 2
    for message in messages:
        assert "sekrit-token" not in message and "hunter2" not in message
        assert "http://127.0.0.1:" in message


def test_json_bodies_are_exact_and_responses_parse(sink: Sink) -> None:
    def echo(rec: Recorded) -> Reply:
        return Reply(200, {"got": rec.json()})

    sink.reply(echo)

    async def go() -> tuple[object, str]:
        async with HttpClient(local_settings()) as c:
            resp = await c.request(
                "POST", f"{sink.url}/j", json={"v": Decimal("12345678901234567890.000000001")}
            )
            return resp.json(), resp.text

    parsed, _ = asyncio.run(go())
    assert sink.requests[0].body == b'{"v":12345678901234567890.000000001}'
    assert sink.requests[0].headers["Content-Type"] == "application/json"
    assert sink.requests[0].headers["User-Agent"].startswith("tocsin/")
    assert isinstance(parsed, dict) and "got" in parsed


def test_connections_are_reused(sink: Sink) -> None:
    async def go() -> None:
        async with HttpClient(local_settings()) as c:
            for _ in range(20):
                await c.request("POST", f"{sink.url}/k", json={"n": 1})
            await asyncio.gather(*(c.request("POST", f"{sink.url}/k", json={}) for _ in range(40)))

    asyncio.run(go())
    assert len(sink.requests) == 60
    peers = {r.peer for r in sink.requests}
    # 20 sequential requests on one kept-alive connection, then at most 40 in parallel.
    assert len(peers) <= 41
    assert len({r.peer for r in sink.requests[:20]}) == 1


def test_json_bodies_write_decimals_as_exact_numbers() -> None:
    from decimal import Decimal

    from tocsin.http import dump_json

    body = dump_json(
        {
            "value": Decimal("6.50"),
            "big": Decimal("123456789012345678901234567890.000000001"),
            "thousand": Decimal("1E+3"),
            "negative_zero": Decimal("-0"),
            "missing": Decimal("NaN"),
            "name": "Größe ✓",
            "nested": [{"v": Decimal("-0.25")}],
        }
    )
    assert (
        body
        == (
            '{"value":6.5,"big":123456789012345678901234567890.000000001,"thousand":1000,'
            '"negative_zero":0,"missing":null,"name":"Größe ✓","nested":[{"v":-0.25}]}'
        ).encode()
    )
