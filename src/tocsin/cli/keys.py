"""``tocsin db generate-key`` and ``tocsin db rotate-key``: the keys that seal secrets."""

from __future__ import annotations

import os

import typer

from tocsin.cli.common import EXIT_BAD_INPUT, emit, fail, guarded, state
from tocsin.crypto.keyring import EncryptionKeyError, generate_key, keyring_for
from tocsin.db.database import Database


def generate() -> None:
    """Print a new encryption key (for TOCSIN_ENCRYPTION_KEY)."""
    typer.echo(generate_key())


def rotate(ctx: typer.Context) -> None:
    """Re-encrypt every stored secret with the newest key, in one transaction.

    With TOCSIN_ENCRYPTION_KEY, put the new key first ("NEW,OLD"), run this, then drop
    OLD. With the key file beside a SQLite database, a new key is generated here."""
    from tocsin.cli.rotation import rotate as rotate_keys

    st = state(ctx)
    db = st.database()
    env_value = os.environ.get("TOCSIN_ENCRYPTION_KEY", "")
    done = guarded(lambda: rotate_keys(db, env_value))
    if done.key_file is not None:
        how = f"with a new key; {done.key_file} now holds it alone"
    elif done.keys == 1:
        how = (
            "with the only key in TOCSIN_ENCRYPTION_KEY (to rotate, put the new key first: NEW,OLD)"
        )
    else:
        how = "with the first key of TOCSIN_ENCRYPTION_KEY; the others can now be dropped"
    data = {
        "reencrypted": done.resealed,
        "key_file": str(done.key_file) if done.key_file else None,
    }
    emit(st, data, f"re-encrypted {done.resealed} values {how}")


def seal_left_plain(db: Database) -> int:
    from tocsin.cli.rotation import seal_plain

    ring = keyring_for(db.url)
    with db.begin() as conn:
        return seal_plain(conn, ring)


def require_key(url: str) -> None:
    """Fail with exit 2 when ``url``'s database has no usable encryption key."""
    try:
        keyring_for(url)
    except EncryptionKeyError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
