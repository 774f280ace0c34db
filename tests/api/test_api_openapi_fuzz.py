"""schemathesis against /openapi.json, in-process through the ASGI app: no 5xx, no
response outside the schema, no undocumented status code, schema-breaking input refused.

Driven by hand (one hypothesis run per operation) rather than through schemathesis'
pytest plugin, whose fixture loader does not work with this pytest version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from api_support import API, Tenant, create_alert, create_metric
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
]
EXAMPLES_PER_OPERATION = 30


@pytest.fixture
def api_schema(app: FastAPI, acme: Tenant) -> Iterator[Any]:
    # Objects named as the schema's examples, so the example phase reaches real rows.
    with TestClient(app) as client:
        metric = create_metric(client, acme.headers)
        create_alert(client, acme.headers, metric["id"])
        client.post(f"{API}/metrics/{metric['id']}/values", json={"value": 6}, headers=acme.headers)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


def _strategy(operation: Any) -> Any:
    strategies = list(operation.get_strategies_from_examples())
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
    return st.one_of(strategies)


def test_openapi_contract(api_schema: Any, acme: Tenant) -> None:
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.given(case=_strategy(operation))
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def check(case: Any) -> None:
            headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
            # A case meant to lack (or garble) the key must not get ours added back.
            auth = {} if headers is not None and headers.mode.is_negative else acme.headers
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures count
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 16
    assert not failures, "\n\n".join(failures)
