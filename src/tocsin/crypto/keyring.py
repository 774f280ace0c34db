"""The keys that seal and open stored secrets, and where they come from.

``TOCSIN_ENCRYPTION_KEY`` holds one or more Fernet keys separated by commas: the first
seals, every one opens (MultiFernet), which is how a rotation is rolled out. Without it
the embedded default (a SQLite file) generates a key into a file beside the database,
readable by its owner only; PostgreSQL, where the database is usually shared and backed
up elsewhere, requires the variable.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Engine, make_url

from tocsin.errors import TocsinError

SEALED_PREFIX = "tocsin:fernet:"
KEY_FILE_SUFFIX = ".key"
# A sealed value may carry a public label after the token (the scheme and host of a
# sealed URL, which redaction shows anyway); Fernet tokens never contain it.
LABEL_SEPARATOR = "#"


class EncryptionKeyError(TocsinError):
    """No usable encryption key: the message says which variable or file to fix."""


class SecretUnreadable(TocsinError):
    """A stored secret that the configured keys cannot open (the key changed, or the
    value was stored before encryption). The message never holds the value."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def label_of(sealed: str) -> str:
    """The public label of a sealed value ("" when it has none)."""
    if not is_sealed(sealed):
        return ""
    return sealed[len(SEALED_PREFIX) :].partition(LABEL_SEPARATOR)[2]


class Keyring:
    """Seals with the first key, opens with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise EncryptionKeyError("expected at least one encryption key")
        fernets = []
        for position, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except (ValueError, TypeError):
                raise EncryptionKeyError(
                    f"TOCSIN_ENCRYPTION_KEY: key {position} is not a Fernet key (expected 32 "
                    "url-safe base64-encoded bytes, as `tocsin db generate-key` prints)"
                ) from None
        self._multi = MultiFernet(fernets)
        self.size = len(fernets)

    def seal(self, plaintext: str, label: str = "") -> str:
        """``plaintext`` encrypted with the first key; ``label`` stays readable."""
        token = SEALED_PREFIX + self._multi.encrypt(plaintext.encode()).decode()
        return token + LABEL_SEPARATOR + label if label else token

    def open(self, sealed: str, what: str = "a stored secret") -> str:
        if not is_sealed(sealed):
            raise SecretUnreadable(f"{what} is not encrypted; run `tocsin db upgrade`")
        token = sealed[len(SEALED_PREFIX) :].partition(LABEL_SEPARATOR)[0]
        try:
            return self._multi.decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise SecretUnreadable(
                f"{what} cannot be decrypted with the configured TOCSIN_ENCRYPTION_KEY "
                "(was it encrypted with another key?)"
            ) from None

    def reseal(self, sealed: str, what: str = "a stored secret") -> str:
        """The same secret (and label) sealed with the first key (key rotation)."""
        return self.seal(self.open(sealed, what), label_of(sealed))


_cache: dict[tuple[str, str], tuple[tuple[int, int], Keyring]] = {}
_lock = threading.Lock()


def key_file_for(database_url: str) -> Path | None:
    """Where the embedded default keeps its generated key: beside the SQLite file."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return path.with_name(path.name + KEY_FILE_SUFFIX)


def _read_or_create(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # O_EXCL: two processes starting at once agree on the first file written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Written by another process an instant ago; wait for its line to land.
        for _ in range(100):
            found = path.read_text().strip()
            if found:
                return found
            time.sleep(0.01)
        raise EncryptionKeyError(f"the key file {path} is empty") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Replace the key file with ``keys`` (newest first) in one step: a crash leaves
    either the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(",".join(keys) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_key_file(path: Path) -> list[str]:
    return [k for k in (p.strip() for p in _read_or_create(path).split(",")) if k]


def _file_stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def configured_keys(database_url: str, env_value: str | None) -> list[str]:
    """The keys in force for ``database_url``, newest first."""
    if env_value and env_value.strip():
        return [k for k in (part.strip() for part in env_value.split(",")) if k]
    path = key_file_for(database_url)
    if path is not None:
        return read_key_file(path)
    if make_url(database_url).get_backend_name() == "sqlite":
        # An in-memory database lives and dies with the process; so does its key.
        return [_process_key()]
    raise EncryptionKeyError(
        "TOCSIN_ENCRYPTION_KEY is required on PostgreSQL: it encrypts the secrets Tocsin "
        "stores. Generate one with `tocsin db generate-key` and keep it out of the database"
    )


_PROCESS_KEY: list[str] = []


def _process_key() -> str:
    with _lock:
        if not _PROCESS_KEY:
            _PROCESS_KEY.append(generate_key())
        return _PROCESS_KEY[0]


def keyring_for(database_url: str, env_value: str | None = None) -> Keyring:
    """The keyring for a database (cached; ``forget_keyrings`` drops it after a rotation).

    ``env_value`` defaults to ``TOCSIN_ENCRYPTION_KEY`` as the process sees it now."""
    if env_value is None:
        env_value = os.environ.get("TOCSIN_ENCRYPTION_KEY", "")
    cache_key = (database_url, env_value)
    # A key file can change under a running process (`tocsin db rotate-key`): its
    # keyring is read again when the file's stamp moves.
    path = None if env_value.strip() else key_file_for(database_url)
    stamp = _file_stamp(path) if path is not None else (0, 0)
    with _lock:
        found = _cache.get(cache_key)
    if found is not None and found[0] == stamp:
        return found[1]
    ring = Keyring(configured_keys(database_url, env_value))
    if path is not None:
        stamp = _file_stamp(path)
    with _lock:
        _cache[cache_key] = (stamp, ring)
    return ring


def keyring_for_engine(engine: Engine) -> Keyring:
    """The keyring for the database ``engine`` talks to."""
    return keyring_for(engine.url.render_as_string(hide_password=False))


def forget_keyrings() -> None:
    with _lock:
        _cache.clear()
