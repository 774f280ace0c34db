"""``--expect-every`` on ``metric create`` / ``metric update`` (the dead-man switch):
shown by ``metric show``, turned off with ``off``, bad input refused naming the flag."""

from __future__ import annotations

from .helpers import run_cli


def test_a_metric_expects_a_value_every_period_until_turned_off(db_url: str) -> None:
    made = run_cli(
        db_url, "--json", "metric", "create", "Heartbeat", "--source", "push",
        "--expect-every", "10m",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert made.json()["expect_every_seconds"] == 600
    shown = run_cli(db_url, "metric", "show", "Heartbeat").stdout
    assert "expects:  a value every 10m, else a missing run" in shown

    changed = run_cli(db_url, "--json", "metric", "update", "Heartbeat", "--expect-every", "1h30m")
    assert changed.exit_code == 0, changed.stderr
    assert changed.json()["expect_every_seconds"] == 5400

    off = run_cli(db_url, "--json", "metric", "update", "Heartbeat", "--expect-every", "off")
    assert off.exit_code == 0, off.stderr
    assert off.json()["expect_every_seconds"] is None
    assert "expects:  off" in run_cli(db_url, "metric", "show", "Heartbeat").stdout


def test_a_scheduled_metric_takes_it_too(db_url: str) -> None:
    made = run_cli(
        db_url, "--json", "metric", "create", "Demo", "--source", "demo", "--every", "1m",
        "--expect-every", "5m",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert (made.json()["schedule"], made.json()["expect_every_seconds"]) == (
        {"every_seconds": 60},
        300,
    )


def test_a_bad_period_is_refused_naming_the_flag_and_changes_nothing(db_url: str) -> None:
    for period in ("0", "soon", "5", "400d"):
        refused = run_cli(
            db_url, "metric", "create", "Heartbeat", "--source", "push", "--expect-every", period
        )
        assert refused.exit_code == 2, (period, refused.stderr)
        assert "--expect-every" in refused.stderr, (period, refused.stderr)
    assert run_cli(db_url, "--json", "metric", "list").json() == []

    run_cli(db_url, "metric", "create", "Heartbeat", "--source", "push", "--expect-every", "10m")
    before = run_cli(db_url, "--json", "metric", "show", "Heartbeat").json()
    for period in ("0", "soon"):
        refused = run_cli(
            db_url, "metric", "update", "Heartbeat", "--expect-every", period, "--name", "renamed"
        )
        assert refused.exit_code == 2, (period, refused.stderr)
        assert "--expect-every" in refused.stderr, (period, refused.stderr)
    assert run_cli(db_url, "--json", "metric", "show", "Heartbeat").json() == before
