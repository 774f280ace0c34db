"""Which networks the settings open: metadata never, private on request, named ranges exactly.

No test here lets a request leave for a non-loopback address even if the guard regressed:
literal addresses are refused by ``check_url`` (which a request runs first) before any
request is made, and names go through the injected resolver hook.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tocsin.alerts.actions import UrlRefused, send_action
from tocsin.http import AddressPolicy, GuardedResolver, HttpClient, ResolveFunc
from tocsin.settings import Settings, SettingsError, load_settings

from .channel_support import Sink, free_port, local_settings, make_notification

TOCSIN = str(Path(sys.executable).parent / "tocsin")

# Every setting wide open: what stays refused here is refused whatever the operator says.
WIDE_OPEN = {"allow_private_networks": True, "allowed_networks": "0.0.0.0/0, ::/0"}


def hosts(mapping: dict[str, list[str]]) -> ResolveFunc:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return mapping[host]

    return resolve


def webhook(url: str, settings: Settings, resolve: ResolveFunc | None = None) -> None:
    async def go() -> None:
        async with HttpClient(settings, resolve=resolve) as http:
            await send_action(
                {"type": "webhook", "url": url}, make_notification(), settings=settings, http=http
            )

    asyncio.run(go())


METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.170.2/v2/credentials",  # ECS task credentials
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://169.254.43518/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
    "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64
    "http://[2002:a9fe:a9fe::]/",  # 6to4
    "http://[::a9fe:a9fe]/",  # IPv4-compatible
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
]


@pytest.mark.parametrize("url", METADATA_URLS)
def test_metadata_literals_refused_whatever_the_settings(url: str) -> None:
    settings = local_settings(**WIDE_OPEN)
    client = HttpClient(settings)
    # The webhook below is only sent once check_url has refused, so a regressed guard
    # fails here instead of sending anything.
    with pytest.raises(UrlRefused, match="always blocked") as info:
        client.check_url(url)
    assert "TOCSIN_ALLOW_PRIVATE_NETWORKS" in info.value.message
    with pytest.raises(UrlRefused, match="always blocked"):
        webhook(url, settings)


@pytest.mark.parametrize(
    "addresses",
    [
        ["169.254.169.254"],
        ["fe80::1"],
        ["::ffff:169.254.169.254"],
        ["fd00:ec2::254"],
        ["93.184.216.34", "169.254.169.254"],
    ],
)
def test_names_resolving_to_metadata_refused_whatever_the_settings(addresses: list[str]) -> None:
    policy = AddressPolicy.from_settings(local_settings(**WIDE_OPEN))
    resolver = GuardedResolver(policy, hosts({"metadata.example.com": addresses}))

    async def go() -> None:
        with pytest.raises(UrlRefused, match="metadata.example.com resolves to it"):
            await resolver.resolve("metadata.example.com", 80)

    asyncio.run(go())


def test_webhook_to_a_name_with_a_metadata_address_sends_nothing(sink: Sink) -> None:
    # Loopback first: were the name not refused, the connection would go to the sink
    # (and the test would see it), never to 169.254.169.254.
    resolve = hosts({"metadata.example.com": ["127.0.0.1", "169.254.169.254"]})
    url = f"http://metadata.example.com:{sink.port}/latest/meta-data/"
    with pytest.raises(UrlRefused, match=r"169\.254\.169\.254, a link-local address"):
        webhook(url, local_settings(**WIDE_OPEN), resolve)
    assert sink.requests == []


def test_allow_private_networks_opens_loopback_and_private_only() -> None:
    policy = AddressPolicy.from_settings(local_settings(allow_private_networks=True))
    for address in ("10.0.0.5", "172.16.0.1", "192.168.1.1", "fd00::1", "100.64.0.1"):
        policy.check(ipaddress.ip_address(address), host=address)
    client = HttpClient(local_settings(allow_private_networks=True))
    assert str(client.check_url("http://127.1:8080/")) == "http://127.0.0.1:8080/"
    assert client.check_url("http://[::1]/").raw_host == "::1"
    for url in ("http://0.0.0.0/", "http://224.0.0.1/", "http://240.0.0.1/"):
        with pytest.raises(UrlRefused, match="does not open them"):
            client.check_url(url)


def test_allowed_networks_open_loopback_only(sink: Sink, sink6: Sink) -> None:
    settings = local_settings(allow_private_networks=False, allowed_networks="127.0.0.0/8")
    webhook(f"{sink.url}/hook", settings)
    webhook(
        f"http://alerts.example.com:{sink.port}/named",
        settings,
        hosts({"alerts.example.com": ["127.0.0.1"]}),
    )
    assert [r.path for r in sink.requests] == ["/hook", "/named"]

    with pytest.raises(UrlRefused, match="::1"):
        webhook(f"{sink6.url}/v6", settings)
    assert sink6.requests == []

    client = HttpClient(settings)
    for url in ("http://10.0.0.5/", "http://10.1.2.3:8080/", "http://[::ffff:10.0.0.5]/"):
        with pytest.raises(UrlRefused, match="TOCSIN_ALLOWED_NETWORKS includes the address"):
            client.check_url(url)
    resolver = GuardedResolver(
        AddressPolicy.from_settings(settings), hosts({"intranet.example.com": ["10.1.2.3"]})
    )
    with pytest.raises(UrlRefused, match="intranet.example.com resolves to it"):
        asyncio.run(resolver.resolve("intranet.example.com", 443))


def test_allowed_networks_open_exactly_the_named_range() -> None:
    client = HttpClient(
        local_settings(allow_private_networks=False, allowed_networks="10.1.0.0/16")
    )
    assert client.check_url("http://10.1.2.3/").raw_host == "10.1.2.3"
    assert client.check_url("http://[::ffff:10.1.0.9]/").raw_host == "::ffff:a01:9"
    for url in ("http://10.2.0.1/", "http://192.168.0.1/", "http://127.0.0.1/"):
        with pytest.raises(UrlRefused):
            client.check_url(url)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("10.1.0.0/16, intranet", "'intranet'"),
        ("10.1.0.0/33", "'10.1.0.0/33'"),
        ("169.254.0.0/16", "can never be opened"),
        ("169.254.169.254", "can never be opened"),
        ("fe80::/64", "can never be opened"),
    ],
)
def test_bad_allowed_networks_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str, shown: str
) -> None:
    monkeypatch.setenv("TOCSIN_ALLOWED_NETWORKS", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "TOCSIN_ALLOWED_NETWORKS" in str(info.value) and shown in str(info.value)


def test_serve_refuses_to_start_with_a_bad_allowed_network(tmp_path: Path) -> None:
    env: dict[str, Any] = {
        "PATH": "/usr/bin:/bin",
        "TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
        "TOCSIN_ALLOWED_NETWORKS": "10.1.0.0/16,intranet",
    }
    proc = subprocess.run(
        [TOCSIN, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "TOCSIN_ALLOWED_NETWORKS" in proc.stderr and "'intranet'" in proc.stderr
