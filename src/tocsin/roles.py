"""What an API key may do in its org: the role vocabulary, shared by the API, the UI and
the CLI.

``viewer`` reads; ``editor`` also changes metrics, alerts and mutes, runs metrics, pushes
values, sends tests, retries deliveries and saves what the chat planned; ``admin`` also
manages credentials and API keys. Each role can do everything the ones below it can.
"""

from __future__ import annotations

from typing import Literal, cast, get_args

from tocsin.errors import InvalidInput, RoleRefused

Role = Literal["viewer", "editor", "admin"]
# Weakest first: a role allows what every earlier one does.
ROLES: tuple[Role, ...] = cast(tuple[Role, ...], get_args(Role))
DEFAULT_ROLE: Role = "editor"
# The operator at the machine (the CLI, the loopback UI) holds no key and is the admin.
OPERATOR_ROLE: Role = "admin"


def role_allows(have: str, need: Role) -> bool:
    """Whether a key with role ``have`` may do what needs ``need``. An unknown role
    allows nothing."""
    if have not in ROLES:
        return False
    return ROLES.index(have) >= ROLES.index(need)


def check_role(have: str, need: Role) -> None:
    """Raise RoleRefused unless ``have`` allows ``need``."""
    if not role_allows(have, need):
        raise RoleRefused(need, have)


def as_role(value: str) -> Role:
    """A stored role; anything unrecognised reads as the least one, never as more."""
    return value if value in ROLES else "viewer"


def parse_role(value: str, field: str = "role") -> Role:
    """A role given by a user; InvalidInput naming ``field`` otherwise."""
    found = value.strip().lower()
    if found not in ROLES:
        raise InvalidInput(field, f"expected one of {', '.join(reversed(ROLES))}")
    return found
