"""Org-scoped credentials: named secrets (database URLs, tokens) that metric sources
reference by name and read at fetch time. Values are write-only: stored sealed, never
shown back, opened only for the source that uses them."""

from tocsin.credentials.store import (
    CREDENTIAL_NAME,
    Credential,
    CredentialStore,
    open_credentials,
)

__all__ = [
    "CREDENTIAL_NAME",
    "Credential",
    "CredentialStore",
    "open_credentials",
]
