"""SSRF guard: which addresses outbound requests may reach.

User-given URLs (webhooks, Slack incoming webhooks, HTTP metric sources) must not reach
the operator's own network: cloud metadata endpoints, databases, admin panels. The check
runs on the addresses DNS actually returned, inside the resolver aiohttp connects with,
so a name that resolves to a private address (or starts to, after a rebind) is refused.
aiohttp never consults the resolver for literal IP hosts, so those are checked before
the request by :func:`literal_ip`.

Three tiers: link-local and cloud metadata addresses are refused whatever the settings
(instance credentials live there); ``TOCSIN_ALLOW_PRIVATE_NETWORKS`` opens loopback and
private ranges; ``TOCSIN_ALLOWED_NETWORKS`` opens exactly the ranges it names.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from tocsin.http.errors import UrlRefused
from tocsin.networks import LINK_LOCAL, METADATA, IPAddress, IPNetwork, parse_networks
from tocsin.settings import Settings

#: Test and embedding hook: map a host name (and port) to IP address strings.
ResolveFunc = Callable[[str, int], Awaitable[Sequence[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")

#: Refusal reasons no setting can lift.
ALWAYS_REFUSED = frozenset({"link-local", "cloud metadata"})
# Refusal reasons TOCSIN_ALLOW_PRIVATE_NETWORKS lifts; the rest (unspecified, multicast,
# reserved) are never a webhook's address, so only TOCSIN_ALLOWED_NETWORKS opens them.
_PRIVATE = frozenset({"loopback", "private", "non-public"})


def _legacy_ipv4_part(text: str) -> int | None:
    if not text:
        return None
    lowered = text.lower()
    try:
        if lowered.startswith("0x"):
            return int(lowered[2:], 16) if lowered[2:] else 0
        if len(lowered) > 1 and lowered.startswith("0"):
            return int(lowered[1:], 8)
        return int(lowered, 10) if lowered.isdigit() else None
    except ValueError:
        return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse the inet_aton forms (``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1``).

    Resolvers accept these, so a guard that only recognised dotted quads could be
    walked around with them.
    """
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_legacy_ipv4_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (5 - len(nums))):
        return None
    number = 0
    for v in head:
        number = (number << 8) | v
    number = (number << (8 * (5 - len(nums)))) | last
    return ipaddress.IPv4Address(number)


def literal_ip(host: str) -> IPAddress | None:
    """The address a literal-IP host denotes, in any notation; None for a DNS name."""
    bare = host.strip("[]")
    if ":" in bare:
        try:
            return ipaddress.IPv6Address(bare)
        except ValueError:
            return None
    return _legacy_ipv4(bare)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    embeds_last_32 = (_NAT64, _NAT64_LOCAL, _IPV4_TRANSLATED)
    if any(ip in net for net in embeds_last_32) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "link-local"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = refusal_reason(inner)
            if reason is not None:
                return reason
    if any(ip in net for net in LINK_LOCAL):
        return "link-local"
    if any(ip in net for net in METADATA):
        return "cloud metadata"
    checks = (
        (ip.is_loopback, "loopback"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """``allowed_networks`` lets an operator open specific ranges without opening all."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def build(
        cls, allow_private: bool, allowed_networks: Iterable[str | IPNetwork] = ()
    ) -> AddressPolicy:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        return cls(allow_private=allow_private, allowed_networks=nets)

    @classmethod
    def from_settings(
        cls, settings: Settings, extra_networks: Iterable[str | IPNetwork] = ()
    ) -> AddressPolicy:
        """The policy ``TOCSIN_ALLOW_PRIVATE_NETWORKS`` and ``TOCSIN_ALLOWED_NETWORKS`` set."""
        nets = [*parse_networks(settings.allowed_networks), *extra_networks]
        return cls.build(settings.allow_private_networks, nets)

    def check(self, ip: IPAddress, *, host: str) -> None:
        """Raise UrlRefused unless ``ip`` (which ``host`` resolved to) may be reached."""
        reason = refusal_reason(ip)
        if reason is None:
            return
        if reason not in ALWAYS_REFUSED:
            if self.allow_private and reason in _PRIVATE:
                return
            candidates: list[IPAddress] = [ip]
            if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)):
                candidates.append(inner)
            if any(c in net for c in candidates for net in self.allowed_networks):
                return
        raise UrlRefused(_refusal_message(ip, reason, host))


def _refusal_message(ip: IPAddress, reason: str, host: str) -> str:
    via = "" if literal_ip(host) is not None else f" ({host} resolves to it)"
    article = "an" if reason[0] in "aeiou" else "a"
    head = f"refused to connect to {ip}, {article} {reason} address{via}; "
    if reason in ALWAYS_REFUSED:
        return head + (
            "link-local and cloud metadata addresses are always blocked, whatever "
            "TOCSIN_ALLOW_PRIVATE_NETWORKS and TOCSIN_ALLOWED_NETWORKS say"
        )
    if reason in _PRIVATE:
        return head + (
            "outbound requests to private and loopback addresses are blocked unless "
            "TOCSIN_ALLOW_PRIVATE_NETWORKS=true or TOCSIN_ALLOWED_NETWORKS includes the address"
        )
    return head + (
        "such addresses are blocked unless TOCSIN_ALLOWED_NETWORKS includes the address "
        "(TOCSIN_ALLOW_PRIVATE_NETWORKS does not open them)"
    )


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses the whole name if any address is not allowed.

    Refusing rather than filtering keeps behaviour predictable: a name with one private
    address among public ones is a misconfiguration or an attack either way.
    """

    def __init__(self, policy: AddressPolicy, resolve: ResolveFunc | None = None) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner: ThreadedResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._resolve is not None:
            results = [_result(host, addr, port) for addr in await self._resolve(host, port)]
        else:
            if self._inner is None:
                self._inner = ThreadedResolver()
            results = await self._inner.resolve(host, port, family)
        if not results:
            raise OSError(f"no addresses found for {host}")
        for result in results:
            self._policy.check(ipaddress.ip_address(result["host"]), host=host)
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


def _result(hostname: str, addr: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return ResolveResult(
        hostname=hostname,
        host=addr,
        port=port,
        family=family,
        proto=0,
        flags=socket.AI_NUMERICHOST,
    )
