"""PostgreSQL keeps alert history in monthly partitions (issue 16 item 7): upkeep makes
the coming months ready, rows that landed in the default partition move into their
month, a month past every retention drops whole, and each partition is as closed to
other orgs as the table is. Given / when / then."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tocsin.alerts.store import AlertStore
from tocsin.db import partitions
from tocsin.db.database import Database
from tocsin.db.retention import Retention, prepare_partitions, prune
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

DAY = timedelta(days=1)


@pytest.fixture
def pg(fresh_pg: str) -> Iterator[Database]:
    db = Database(fresh_pg)
    db.ensure_schema()
    yield db
    db.dispose()


def _alert(db: Database, org_name: str) -> tuple[uuid.UUID, uuid.UUID]:
    with db.begin() as conn:
        org = get_or_create_org(conn, org_name)
        metric = MetricStore(conn, org).create({"name": "Queue", "source": {"type": "push"}})
        alert = AlertStore(conn, org).create_alert(
            {
                "metric_id": metric.id,
                "name": "Queue too long",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
    return org, alert.id


def _history_at(db: Database, org: uuid.UUID, alert_id: uuid.UUID, *moments: datetime) -> None:
    with db.begin() as conn:
        for at in moments:
            conn.execute(
                text(
                    "INSERT INTO alert_history (id, alert_id, org_id, evaluated_at, triggered, "
                    "state_from, state_to, notified, reason) VALUES (:id, :alert, :org, :at, "
                    "true, 'ok', 'triggered', true, '7 > 5')"
                ),
                {"id": uuid.uuid4(), "alert": alert_id, "org": org, "at": at},
            )


def _rows_by_partition(db: Database) -> dict[str, int]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text AS part, count(*) FROM alert_history GROUP BY 1")
        ).all()
    return {part: n for part, n in rows}


def test_upkeep_makes_this_month_and_the_next_ready_each_behind_row_level_security(
    pg: Database,
) -> None:
    # Given a new database: history has only its default partition
    with pg.connect() as conn:
        assert partitions.existing(conn) == {partitions.DEFAULT}
    now = datetime(2031, 11, 20, tzinfo=UTC)

    # When upkeep runs, and runs again
    made = prepare_partitions(pg, now=now)
    again = prepare_partitions(pg, now=now)

    # Then this month and the two after exist, once
    assert made == ["alert_history_p203111", "alert_history_p203112", "alert_history_p203201"]
    assert again == []
    with pg.connect() as conn:
        secured = dict(
            conn.execute(
                text("SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY(:names)"),
                {"names": [*made, partitions.DEFAULT]},
            ).all()
        )
    assert secured == dict.fromkeys([*made, partitions.DEFAULT], True)


def test_rows_the_default_partition_took_move_into_their_month(pg: Database) -> None:
    # Given rows of a month with no partition yet (they went to the default partition)
    org, alert_id = _alert(pg, "acme")
    stray = datetime(2030, 3, 14, 12, tzinfo=UTC)
    _history_at(pg, org, alert_id, stray, stray + DAY)
    assert _rows_by_partition(pg) == {partitions.DEFAULT: 2}

    # When upkeep runs
    made = prepare_partitions(pg, now=datetime(2031, 1, 5, tzinfo=UTC))

    # Then March 2030 has its partition holding them, and the default is empty again
    assert "alert_history_p203003" in made
    assert _rows_by_partition(pg) == {"alert_history_p203003": 2}


def test_a_month_past_every_retention_drops_whole_and_later_months_stay(pg: Database) -> None:
    # Given history in three months, the oldest ending more than 400 days ago
    org, alert_id = _alert(pg, "acme")
    now = datetime(2031, 6, 15, tzinfo=UTC)
    old, kept, recent = (
        datetime(2030, 4, 10, tzinfo=UTC),
        datetime(2030, 5, 5, tzinfo=UTC),
        datetime(2031, 6, 1, tzinfo=UTC),
    )
    _history_at(pg, org, alert_id, old, kept, recent)
    prepare_partitions(pg, now=now)

    # When retention prunes with the defaults
    pruned = prune(pg, Retention(30 * DAY, 400 * DAY, 30 * DAY), now=now)

    # Then April 2030 was dropped as a table, not row by row; May 2030 is within 400
    # days at its end, so its partition stays, and only its row past 400 days went
    assert pruned.partitions == ["alert_history_p203004"]
    assert pruned.transitions == 1
    with pg.connect() as conn:
        names = partitions.existing(conn)
    assert "alert_history_p203004" not in names and "alert_history_p203005" in names
    assert _rows_by_partition(pg) == {"alert_history_p203106": 1}


def test_another_orgs_history_cannot_be_read_through_a_partition(pg: Database) -> None:
    # Given two orgs with history this month, and a Supabase user of the second org with
    # the Data API's usual grants on every table (partitions included)
    mallory = uuid.uuid4()
    victim, victim_alert = _alert(pg, "victim")
    own, own_alert = _alert(pg, "mallory-org")
    now = datetime.now(UTC)
    prepare_partitions(pg, now=now)
    _history_at(pg, victim, victim_alert, now)
    _history_at(pg, own, own_alert, now, datetime(2001, 1, 1, tzinfo=UTC))
    with pg.begin() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname='authenticated'")).scalar():
            conn.execute(text("CREATE ROLE authenticated NOLOGIN"))
        conn.execute(text("GRANT USAGE ON SCHEMA public, auth TO authenticated"))
        conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO authenticated"))
        conn.execute(
            text(
                "INSERT INTO org_members (org_id, user_id, role, created_at) "
                "VALUES (:o, :u, 'member', now())"
            ),
            {"o": own, "u": mallory},
        )
    month = partitions.partition_name(partitions.month_of(now))

    # When that user reads this month's partition and the default one directly
    with pg.begin() as conn:
        conn.execute(text("SET LOCAL ROLE authenticated"))
        conn.execute(
            text("SELECT set_config('request.jwt.claims', :claims, true)"),
            {"claims": f'{{"sub": "{mallory}", "role": "authenticated"}}'},
        )
        seen = {
            name: conn.execute(text(f"SELECT org_id FROM {name}")).scalars().all()
            for name in (month, partitions.DEFAULT, "alert_history")
        }

    # Then only their own org's rows come back, from every one of them
    assert seen == {month: [own], partitions.DEFAULT: [own], "alert_history": [own, own]}


def test_upkeep_refreshes_the_statistics_of_a_month_that_grew(pg: Database) -> None:
    from tests.runtime_pg.pg_runtime_support import wait_for
    from tocsin.execution.upkeep import analyze_outgrown_tables

    # Given this month's partition, never analysed, and 3,000 evaluations in it
    now = datetime.now(UTC)
    org, alert_id = _alert(pg, "acme")
    prepare_partitions(pg, now=now)
    month = partitions.partition_name(partitions.month_of(now))
    start = partitions.month_of(now)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    _history_at(pg, org, alert_id, *(first + timedelta(seconds=i) for i in range(3000)))
    live = f"SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = '{month}'"
    with pg.connect() as conn:
        conn.execute(text("SELECT pg_stat_force_next_flush()"))

    def counted() -> bool:
        with pg.connect() as conn:
            return int(conn.execute(text(live)).scalar_one()) >= 3000

    wait_for(counted, 15, "the row counts to be flushed")

    # When a worker's upkeep check runs, then it analyses that partition
    assert month in analyze_outgrown_tables(pg)
    with pg.connect() as conn:
        known = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = :m"), {"m": month}
        ).scalar_one()
    assert known == 3000
