"""Runs that finish together are recorded together (group commit), and what each run
records is what it would have recorded alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.execution.group_commit import GroupCommit
from tocsin.execution.run_statements import finish_runs, start_run
from tocsin.execution.run_store import FinishedRun, RunRecord
from tocsin.execution.scheduler import run_store_for
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


def _metric_with_alert(db: Database, org_id: uuid.UUID, name: str) -> uuid.UUID:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": name, "source": {"type": "push"}, "schedule": None}
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": f"{name} above 5",
                "comparison_op": "gt",
                "threshold_value": 5,
                "cooldown_seconds": 0,
                "notify_on_resolve": True,
                "action_config": {"type": "log"},
            }
        )
    return metric.id


def _finish_together(db: Database, runs: Sequence[tuple[uuid.UUID, Any]]) -> list[RunRecord]:
    """Start a run per (metric, value) and finish them all in one transaction."""
    settings = Settings(database_url=db.url)

    async def go() -> list[RunRecord]:
        store = run_store_for(db, settings)
        try:
            finished = []
            for metric_id, value in runs:
                run = await store.start(metric_id, trigger="manual", scheduled_for=None)
                finished.append(FinishedRun(run, "completed", value, Decimal(value), None))
            return await store.finish(finished)
        finally:
            await store.close()

    return asyncio.run(go())


def test_runs_of_different_metrics_finished_together_each_record_their_own(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given two metrics, each with an alert above 5
    first, second = _metric_with_alert(db, org_id, "a"), _metric_with_alert(db, org_id, "b")
    # When a run of each finishes in one group, one breaching and one not
    records = _finish_together(db, [(first, 9), (second, 1)])
    # Then each run's execution and evaluation are its own, stored as read back
    assert [r.execution.metric_id for r in records] == [first, second]
    assert [
        [e.decision.state_to for e in r.evaluation.evaluated] for r in records if r.evaluation
    ] == [
        ["triggered"],
        ["ok"],
    ]
    with db.connect() as conn:
        store, alerts = MetricStore(conn, org_id), AlertStore(conn, org_id)
        for record in records:
            (stored,) = store.executions(record.execution.metric_id)
            assert stored == record.execution
        assert alerts.get_alert("a above 5").state == "triggered"
        assert alerts.get_alert("b above 5").state == "ok"
        notified = [h.notified for h in alerts.history(alerts.get_alert("a above 5").id)]
    assert notified == [True]


def test_two_runs_of_one_metric_in_one_group_apply_in_order(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given a metric with an alert above 5
    metric_id = _metric_with_alert(db, org_id, "m")
    # When two of its runs finish in one group: 9, then 1
    records = _finish_together(db, [(metric_id, 9), (metric_id, 1)])
    # Then the second is decided on the state the first wrote: triggered, then resolved
    moves = [(e.decision.state_from, e.decision.state_to) for r in records if r.evaluation
             for e in r.evaluation.evaluated]  # fmt: skip
    assert moves == [("ok", "triggered"), ("triggered", "ok")]
    with db.connect() as conn:
        alerts = AlertStore(conn, org_id)
        alert = alerts.get_alert("m above 5")
        history = alerts.history(alert.id)
    assert alert.state == "ok" and len(history) == 2


def test_a_group_that_fails_is_written_item_by_item() -> None:
    # Given a writer that refuses any group holding "bad"
    writes: list[list[str]] = []

    async def write(items: Sequence[str]) -> list[str]:
        writes.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    async def go() -> list[Any]:
        commit: GroupCommit[str, str] = GroupCommit(write)
        return await asyncio.gather(
            *(commit.submit(item) for item in ("a", "b", "bad", "c")), return_exceptions=True
        )

    # When four items are submitted at once
    results = asyncio.run(go())
    # Then they are written as one group, which fails and is written again item by
    # item: only the bad item fails
    assert writes == [["a", "b", "bad", "c"], ["a"], ["b"], ["bad"], ["c"]]
    assert results[:2] == ["A", "B"] and results[3] == "C"
    assert isinstance(results[2], ValueError)


@pytest.mark.parametrize("size", [1, 7])
def test_a_group_never_exceeds_its_bound(size: int) -> None:
    groups: list[int] = []

    async def write(items: Sequence[int]) -> list[int]:
        groups.append(len(items))
        await asyncio.sleep(0)
        return list(items)

    async def go() -> list[int]:
        commit: GroupCommit[int, int] = GroupCommit(write, max_group=size)
        return await asyncio.gather(*(commit.submit(i) for i in range(20)))

    assert asyncio.run(go()) == list(range(20))
    assert max(groups) <= size and sum(groups) == 20


@pytest.mark.parametrize(("value", "expected"), [(9, "on"), (1, "off")])
def test_on_postgresql_a_group_that_sends_commits_flushed(
    pg_db: Database, value: int, expected: str
) -> None:
    # Given a metric with an alert above 5, and a started run of it
    with pg_db.begin() as conn:
        org_id = get_or_create_org(conn, "acme")
    metric_id = _metric_with_alert(pg_db, org_id, "m")
    settings = Settings(database_url=pg_db.url)
    with pg_db.begin() as conn:
        run = start_run(conn, metric_id, trigger="manual", scheduled_for=None)
    # When the run is finished with deliveries born claimed (9 notifies, 1 does not)
    with pg_db.begin() as conn:
        item = FinishedRun(run, "completed", value, Decimal(value), None)
        finish_runs(pg_db, conn, [item], settings=settings, claim_for_seconds=30)
        mode = conn.execute(text("SHOW synchronous_commit")).scalar()
    # Then it commits waiting for the WAL flush only when something is sent on it
    assert mode == expected
