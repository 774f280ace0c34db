"""Exceptions the core raises; the CLI and API translate them at the edges."""

from __future__ import annotations

from pydantic import ValidationError


class TocsinError(Exception):
    """Base class for errors a user can act on."""


class InvalidInput(TocsinError):
    """Bad input: names each field and what was expected. Nothing was changed."""

    def __init__(self, field: str, message: str, *, more: list[tuple[str, str]] | None = None):
        self.errors: list[tuple[str, str]] = [(field, message), *(more or [])]
        self.field = field
        self.message = message
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.errors))

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> InvalidInput:
        found: list[tuple[str, str]] = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
            msg = err["msg"].removeprefix("Value error, ")
            if not loc:
                # A check across fields says which one is at fault: "name: expected ...".
                name, sep, rest = msg.partition(": ")
                if sep and name.replace("_", "").replace(".", "").isalnum():
                    loc, msg = name, rest
            field = ".".join(p for p in (prefix, loc) if p) or prefix or "input"
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            found.append((field, msg))
        return cls(found[0][0], found[0][1], more=found[1:])


class NotFound(TocsinError):
    """No such object in this org (another org's object is not found either)."""

    def __init__(self, kind: str, ref: str) -> None:
        self.kind = kind
        self.ref = ref
        super().__init__(f"{kind} {ref!r} not found")


class Conflict(TocsinError):
    """The object clashes with an existing one (a duplicate name)."""


class RoleRefused(TocsinError):
    """The caller's role is too small for this (in its own org: another org's object is
    NotFound, whatever the role)."""

    def __init__(self, need: str, have: str) -> None:
        self.need = need
        self.have = have
        super().__init__(f"role {need} needed; this key is {_article(have)} {have}")


def _article(word: str) -> str:
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"
