"""Which stored metrics read environment variables the operator has not allowed.

Before credentials existed, any source could name any variable; ``tocsin db upgrade``
lists the metrics that now need their variable in ``TOCSIN_SOURCE_ENV_ALLOW`` (or moved
into a credential) so that none stops working unexplained."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select

from tocsin.crypto import SecretUnreadable
from tocsin.crypto.keyring import keyring_for_engine
from tocsin.db.schema import metrics, orgs
from tocsin.errors import InvalidInput
from tocsin.metrics.sealing import open_source
from tocsin.metrics.sources import build_source
from tocsin.settings import Settings


class EnvUse(NamedTuple):
    org: str
    metric: str
    field: str
    variable: str

    def advice(self) -> str:
        return (
            f"metric {self.metric!r} (org {self.org}) reads environment variable "
            f"{self.variable} ({self.field}): add it to TOCSIN_SOURCE_ENV_ALLOW, or store it "
            f"as a credential (`tocsin --org {self.org} credential set {self.variable}`)"
        )


def unallowed_env_uses(conn: Connection, settings: Settings) -> list[EnvUse]:
    rows = conn.execute(
        select(orgs.c.name.label("org"), metrics.c.name, metrics.c.source)
        .join(orgs, orgs.c.id == metrics.c.org_id)
        .order_by(orgs.c.name, metrics.c.name)
    )
    ring = keyring_for_engine(conn.engine)
    found = []
    for row in rows:
        try:
            # Opened: a reference may sit inside a sealed header such as "Bearer ${TOKEN}".
            refs = build_source(open_source(row.source, ring)).config.references()
        except (InvalidInput, SecretUnreadable):
            continue  # its runs fail and say why already
        found += [
            EnvUse(row.org, row.name, r.field, r.name)
            for r in refs
            if r.kind == "env" and not settings.env_allowed(r.name)
        ]
    return found
