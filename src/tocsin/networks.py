"""Address ranges as the operator writes them (``TOCSIN_ALLOWED_NETWORKS``), and the
ranges no setting can open.

A leaf, so that the settings can check the list when they load while the SSRF guard
(``tocsin.http.guard``), which reads the settings, applies it.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Reached from inside a cloud instance, these hand out its credentials. No setting opens
# them: an operator opening "private networks" for an intranet webhook must not also
# open the instance role to every tenant.
LINK_LOCAL = (ipaddress.IPv4Network("169.254.0.0/16"), ipaddress.IPv6Network("fe80::/10"))
METADATA = (
    ipaddress.IPv6Network("fd00:ec2::254/128"),  # AWS IMDS over IPv6
    ipaddress.IPv4Network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.IPv4Network("168.63.129.16/32"),  # Azure WireServer
)


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``TOCSIN_ALLOWED_NETWORKS``: comma-separated CIDR ranges.

    Raises ValueError for an entry that is not a range, or one that lies wholly in the
    link-local or metadata ranges: it could open nothing, and the operator should learn
    that at start-up rather than from a refused delivery.
    """
    nets: list[IPNetwork] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"{entry!r}: expected CIDR ranges such as 10.1.0.0/16, comma-separated"
            ) from None
        blocked = (*LINK_LOCAL, *METADATA)
        if any(net.version == b.version and net.subnet_of(b) for b in blocked):  # type: ignore[arg-type]
            raise ValueError(
                f"{entry!r}: link-local and cloud metadata addresses can never be opened"
            )
        nets.append(net)
    return tuple(nets)
