"""Error bodies: 422 naming fields, 413 for big bodies, 500 without a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from api_support import API, Tenant, fields_of
from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_body_limit_is_413(client: TestClient, acme: Tenant) -> None:
    big = {"name": "x", "source": {"type": "push"}, "description": "y" * 70_000}
    resp = client.post(f"{API}/metrics", json=big, headers=acme.headers)
    assert resp.status_code == 413 and "KiB" in resp.json()["detail"]

    def chunks() -> Iterator[bytes]:
        # Streamed without a Content-Length: counted as it arrives.
        yield b'{"value": "'
        for _ in range(20):
            yield b"z" * 4096
        yield b'"}'

    resp = client.post(
        f"{API}/metrics/x/values",
        content=chunks(),
        headers=acme.headers | {"Content-Type": "application/json"},
    )
    assert resp.status_code == 413


def test_malformed_and_unknown_input_is_422(client: TestClient, acme: Tenant) -> None:
    headers = acme.headers | {"Content-Type": "application/json"}
    resp = client.post(f"{API}/metrics", content=b"{not json", headers=headers)
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "body"
    resp = client.post(f"{API}/metrics", content=b"\xff\xfe", headers=headers)
    assert resp.status_code == 422
    assert fields_of(resp.json())["body"].startswith("expected a JSON body")
    resp = client.get(f"{API}/metrics", params={"limt": 5}, headers=acme.headers)
    assert resp.status_code == 422
    assert fields_of(resp.json())["limt"].startswith("unknown query parameter")
    resp = client.post(f"{API}/metrics", json=[1, 2], headers=acme.headers)
    assert resp.status_code == 422


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("connection string postgresql://u:hunter2@db/x broke")

    return app


def test_unexpected_errors_are_500_without_trace(
    failing_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        TestClient(failing_app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="tocsin.api"),
    ):
        resp = client.get("/boom")
    assert resp.status_code == 500
    assert resp.json() == {"detail": "internal error; the server logged it"}
    assert "Traceback" not in resp.text and "hunter2" not in resp.text
    (record,) = [r for r in caplog.records if r.name == "tocsin.api"]
    assert "GET /boom" in record.getMessage() and "RuntimeError" in record.getMessage()
    # The log keeps the error, not the password its message quoted.
    assert "hunter2" not in record.getMessage()
    assert "postgresql://u:***@db/x" in record.getMessage()
