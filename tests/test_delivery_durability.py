"""Deliveries survive worker deaths: each outcome is on disk as soon as its send ends,
and a delivery whose worker died at its last allowed attempt ends ``dead`` instead of
being sent an extra time. On SQLite and PostgreSQL, against real local receivers."""

from __future__ import annotations

import ipaddress

import pytest

from tocsin.http import AddressPolicy, UrlRefused


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.0.0.5", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
    ],
)
def test_refusals_name_the_address_category_with_the_right_article(
    address: str, phrase: str
) -> None:
    with pytest.raises(UrlRefused) as info:
        AddressPolicy().check(ipaddress.ip_address(address), host=address)
    assert f"refused to connect to {address}, {phrase};" in info.value.message
