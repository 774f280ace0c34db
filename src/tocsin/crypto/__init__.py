"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) from the ``cryptography`` package.

Every secret Tocsin stores (action secrets, credential values, literal header values)
is sealed into a string ``tocsin:fernet:<token>`` before it is written, and opened only
by the channel or source that sends it. See docs/security.md.
"""

from tocsin.crypto.keyring import (
    SEALED_PREFIX,
    EncryptionKeyError,
    Keyring,
    SecretUnreadable,
    generate_key,
    is_sealed,
    keyring_for,
)

__all__ = [
    "SEALED_PREFIX",
    "EncryptionKeyError",
    "Keyring",
    "SecretUnreadable",
    "generate_key",
    "is_sealed",
    "keyring_for",
]
