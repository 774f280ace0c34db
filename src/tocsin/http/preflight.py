"""The guard's answer before anything is saved: is this URL one Tocsin would refuse?

Run when an action or an HTTP source is created or changed, so a webhook to
``169.254.169.254`` or to a name resolving to ``10.0.0.7`` is refused then (naming the
field and the address), not when it first fires. A name that does not resolve yet is
accepted: DNS may catch up, and the resolver checks again at every send."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
from collections.abc import Callable

from yarl import URL

from tocsin.http.errors import UrlRefused
from tocsin.http.guard import AddressPolicy, literal_ip

# A save waits this long for DNS at most; a slower answer is left to the send-time check.
RESOLVE_SECONDS = 2.0
Resolve = Callable[[str], list[str]]
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="tocsin-dns")


def _system_resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def refusal(url: str, policy: AddressPolicy, resolve: Resolve | None = None) -> str | None:
    """Why the guard would refuse ``url``, or None (including a name that does not
    resolve yet, or not within RESOLVE_SECONDS)."""
    try:
        host = URL(url).raw_host or ""
    except (ValueError, TypeError):
        return None  # the channel's own validation says what is wrong with it
    if not host:
        return None
    try:
        ip = literal_ip(host)
        if ip is not None:
            policy.check(ip, host=host)
            return None
        future = _pool.submit(resolve or _system_resolve, host)
        try:
            addresses = future.result(timeout=RESOLVE_SECONDS)
        except (OSError, UnicodeError, concurrent.futures.TimeoutError):
            return None
        for address in addresses:
            policy.check(ipaddress.ip_address(address.split("%")[0]), host=host)
    except UrlRefused as exc:
        return exc.message
    return None
