"""Outbound HTTP: one guarded, pooled client for channels and HTTP metric sources."""

from tocsin.http.client import (
    MAX_REDIRECTS,
    USER_AGENT,
    HttpClient,
    HttpResponse,
    dump_json,
    raise_for_status,
)
from tocsin.http.errors import (
    HttpError,
    UrlRefused,
    is_transient_status,
    parse_retry_after,
    redact_url,
)
from tocsin.http.guard import AddressPolicy, GuardedResolver, ResolveFunc, refusal_reason

__all__ = [
    "MAX_REDIRECTS",
    "USER_AGENT",
    "AddressPolicy",
    "GuardedResolver",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "ResolveFunc",
    "UrlRefused",
    "dump_json",
    "is_transient_status",
    "parse_retry_after",
    "raise_for_status",
    "redact_url",
    "refusal_reason",
]
