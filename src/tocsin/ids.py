"""New random ids, made in bulk: an evaluation makes one per alert and per delivery."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

# The version 4 and RFC 4122 variant bits of a UUID's integer.
_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)


def fresh_uuids(count: int) -> Iterator[uuid.UUID]:
    """Random (version 4) UUIDs from one read of the OS's randomness, not one each.

    Built as Python 3.14's ``UUID._from_int`` does, without ``UUID.__init__``'s parsing
    of its many argument forms, which cost more than the randomness: an evaluation makes
    one per alert and one per delivery."""
    pool = os.urandom(16 * count)
    new, setattr_, from_bytes = object.__new__, object.__setattr__, int.from_bytes
    unknown = uuid.SafeUUID.unknown
    for start in range(0, 16 * count, 16):
        made = new(uuid.UUID)
        setattr_(made, "int", from_bytes(pool[start : start + 16]) & _V4_CLEAR | _V4_SET)
        setattr_(made, "is_safe", unknown)
        yield made


def uuid_stream() -> Iterator[uuid.UUID]:
    while True:
        yield from fresh_uuids(256)
