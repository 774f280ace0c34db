"""`tocsin serve` as a user runs it: the API and the embedded runner in one process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .helpers import run_cli

TOCSIN = str(Path(sys.executable).parent / "tocsin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, method="POST" if body is not None else "GET")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    data = None
    if body is not None:
        request.add_header("Content-Type", "application/json")
        data = json.dumps(body).encode()
    with urllib.request.urlopen(request, data, timeout=10) as resp:  # noqa: S310 - loopback
        return resp.status, json.loads(resp.read())


def test_serve_runs_the_api_and_the_scheduler_together(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/serve.db"
    key = run_cli(url, "apikey", "create", "--name", "test", "--json").json()["key"]
    assert run_cli(url, "metric", "create", "Pushed").exit_code == 0
    assert (
        run_cli(
            url, "alert", "create", "--metric", "Pushed", "--name", "a", "--when", "> 5"
        ).exit_code
        == 0
    )
    assert (
        run_cli(url, "metric", "create", "Sim", "--source", "demo", "--every", "1s").exit_code == 0
    )
    port = _free_port()
    env = dict(os.environ, TOCSIN_DATABASE_URL=url)
    proc = subprocess.Popen(
        [TOCSIN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                status, health = _get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("tocsin serve did not answer")
        assert status == 200 and health["runner"]["alive"] is True
        status, report = _get(f"{base}/api/v1/metrics/Pushed/values", key, {"value": 6})
        assert status == 200 and report["evaluations"][0]["state_to"] == "triggered"
        assert [d["status"] for d in report["deliveries"]] == ["sent"]
        time.sleep(2.5)  # the scheduler runs the demo metric by itself
        status, runs = _get(f"{base}/api/v1/metrics/Sim/executions", key)
        assert status == 200 and len(runs["items"]) >= 2
        assert all(r["trigger"] == "schedule" for r in runs["items"])
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    # It said where everything is before serving
    assert f"web UI:   {base}/ui/  (org 'default', no login)" in out
    assert f"REST API: {base}/api/v1" in out
    assert f"database: {tmp_path}/serve.db" in out
    assert "runtime:  embedded" in out
