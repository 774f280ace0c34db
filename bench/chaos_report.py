"""What ``bench.chaos`` counts once the run has drained, and how it prints it.

The definitions (the printout repeats them):

- *stuck*: a delivery still ``pending`` at the drain deadline (due, leased or waiting out
  a backoff), or an execution still ``running`` then.
- *lost*, the sum of:
  - an evaluation that decided to notify (``alert_history.notified``) with no outbox row;
  - a finished execution (completed, failed or timed out) with no ``alert_history`` row
    (every metric of the bench has one enabled alert from before its first run, so each
    finished run owes exactly one evaluation);
  - a delivery the outbox marks ``sent`` whose Idempotency-Key the sink never answered
    with 200;
  - a key the sink answered with 200 that no outbox row carries (the record of a
    notification that went out was lost).
- *duplicate*: a delivery (Idempotency-Key) the sink answered with 200 more than once.
  Each extra 200 is put down to the last kill (or database restart) between the arrival
  of the previous 200'd request for that key, less ``SLACK`` seconds, and its own
  arrival; with none there, to "no kill". The slack covers a send that was already
  under way when the database went down: its 200 arrives after the event, but its
  outcome could not be written, and the delivery is sent again once its lease ends.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import exists, func, select

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, metric_executions
from tocsin.db.schema import notification_deliveries as nd


@dataclass
class Figures:
    mode: str
    kills: int = 0
    restarts: int = 0  # of the PostgreSQL cluster
    self_exits: int = 0  # children found dead without being killed (restarted too)
    executions: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    evaluations: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)
    pending_due: int = 0
    sink_requests: int = 0
    sink_500s: int = 0
    acknowledged: int = 0
    duplicate_keys: int = 0
    extra_acks: int = 0
    per_event: list[int] = field(default_factory=list)
    without_event: int = 0
    notified_without_outbox: int = 0
    unevaluated: int = 0
    sent_not_acked: int = 0
    acked_not_in_outbox: int = 0
    acked_not_marked_sent: int = 0
    metrics: int = 0
    load_seconds: float = 0.0  # from the first start to the drain
    restart_seconds: list[float] = field(default_factory=list)
    drained_in: float | None = None
    jobs_left: int | None = None

    @property
    def stuck(self) -> int:
        return self.deliveries["pending"] + self.executions["running"]

    @property
    def lost(self) -> int:
        return (
            self.notified_without_outbox
            + self.unevaluated
            + self.sent_not_acked
            + self.acked_not_in_outbox
        )


SLACK = 1.0


def attribute(acks: dict[str, list[float]], events: list[float]) -> tuple[list[int], int]:
    """Extra 200s per event (kill or restart, by monotonic time), and those with no event
    near enough before them (see the module docstring)."""
    per_event = [0] * len(events)
    without = 0
    ordered = sorted(range(len(events)), key=lambda i: events[i])
    for times in acks.values():
        times = sorted(times)
        for before, at in zip(times, times[1:], strict=False):
            between = [i for i in ordered if before - SLACK < events[i] <= at]
            if between:
                per_event[between[-1]] += 1
            else:
                without += 1
    return per_event, without


def unfinished(db: Database) -> tuple[int, int, int]:
    """Pending deliveries, running executions and finished but unevaluated executions:
    the drain is over when all three are zero."""
    with db.connect() as conn:
        pending = conn.execute(select(func.count()).where(nd.c.status == "pending")).scalar_one()
        running, owed = conn.execute(
            select(
                func.count().filter(metric_executions.c.status == "running"),
                func.count().filter(
                    metric_executions.c.status != "running",
                    metric_executions.c.evaluated_at.is_(None),
                ),
            )
        ).one()
    return int(pending), int(running), int(owed)


def collect(
    db: Database,
    fig: Figures,
    acks: dict[str, list[float]],
    events: list[float],
    dump: Path | None = None,
) -> None:
    """Fill ``fig`` from the database and the sink's acknowledgements; with ``dump``, also
    write the outbox rows of the duplicates there (JSON), for a closer look."""
    with db.connect() as conn:
        fig.executions = Counter(
            dict(
                conn.execute(
                    select(metric_executions.c.status, func.count()).group_by(
                        metric_executions.c.status
                    )
                ).all()
            )
        )
        fig.abandoned = conn.execute(
            select(func.count()).where(metric_executions.c.error.like("abandoned%"))
        ).scalar_one()
        fig.evaluations = conn.execute(select(func.count()).select_from(alert_history)).scalar_one()
        fig.notified_without_outbox = conn.execute(
            select(func.count()).where(
                alert_history.c.notified.is_(True),
                ~exists().where(nd.c.history_id == alert_history.c.id),
            )
        ).scalar_one()
        fig.unevaluated = conn.execute(
            select(func.count()).where(
                metric_executions.c.status != "running",
                ~exists().where(alert_history.c.execution_id == metric_executions.c.id),
            )
        ).scalar_one()
        rows = conn.execute(select(nd.c.idempotency_key, nd.c.status, nd.c.next_attempt_at)).all()
        if dump is not None:
            twice = [k for k, times in acks.items() if len(times) > 1]
            found = conn.execute(select(nd).where(nd.c.idempotency_key.in_(twice))).mappings()
            detail = [
                {**{k: str(v) for k, v in row.items() if k not in ("payload", "action")},
                 "acks": acks[row["idempotency_key"]]}
                for row in found
            ]  # fmt: skip
            dump.write_text(json.dumps({"events": events, "duplicates": detail}, indent=1))
    now = utcnow()
    status_of = {row.idempotency_key: row.status for row in rows}
    fig.deliveries = Counter(row.status for row in rows)
    fig.pending_due = sum(1 for r in rows if r.status == "pending" and r.next_attempt_at <= now)
    fig.acknowledged = len(acks)
    fig.sent_not_acked = sum(1 for k, s in status_of.items() if s == "sent" and k not in acks)
    fig.acked_not_in_outbox = sum(1 for k in acks if k not in status_of)
    fig.acked_not_marked_sent = sum(1 for k in acks if k in status_of and status_of[k] != "sent")
    fig.duplicate_keys = sum(1 for times in acks.values() if len(times) > 1)
    fig.extra_acks = sum(len(times) - 1 for times in acks.values())
    fig.per_event, fig.without_event = attribute(acks, events)


def render(fig: Figures, header: str) -> str:
    ex, dl = fig.executions, fig.deliveries
    events = fig.kills + fig.restarts
    per = f"{fig.extra_acks / events:.2f}" if events else "-"
    lines = [
        header,
        f"  kills          {fig.kills} SIGKILL"
        + (
            f", {fig.restarts} PostgreSQL restarts (-m immediate, back after "
            + ", ".join(f"{s:.1f}" for s in fig.restart_seconds)
            + " s)"
            if fig.restarts
            else ""
        )
        + f"; {fig.self_exits} children exited on their own",
        f"  executions     {sum(ex.values())}: completed {ex['completed']}, failed "
        f"{ex['failed']} (abandoned by a kill {fig.abandoned}), timed_out {ex['timed_out']}, "
        f"running {ex['running']}; {sum(ex.values()) / max(fig.load_seconds, 1e-9):.1f}/s "
        f"over {fig.load_seconds:.0f} s under load, the schedule offering "
        f"{fig.metrics}/s",
        f"  evaluations    {fig.evaluations}",
        f"  deliveries     {sum(dl.values())}: sent {dl['sent']}, dead {dl['dead']}, failed "
        f"{dl['failed']}, stuck {dl['pending']} (pending at the deadline, {fig.pending_due} "
        "of them due)",
        f"  sink           {fig.sink_requests} requests, {fig.sink_500s} answered 500; "
        f"acknowledged {fig.acknowledged} deliveries with 200",
        f"  duplicates     {fig.duplicate_keys} deliveries acknowledged more than once "
        f"({fig.extra_acks} extra 200s, {per} per kill/restart); per event in order: "
        f"{fig.per_event}, with no kill between: {fig.without_event}",
        f"  acked, not marked sent   {fig.acked_not_marked_sent} (the outbox will send or "
        "has given up on what the receiver already has)",
        f"  stuck          {fig.stuck} = {dl['pending']} pending deliveries + "
        f"{ex['running']} running executions at the drain deadline",
        f"  lost           {fig.lost} = {fig.notified_without_outbox} notifying evaluations "
        f"without an outbox row + {fig.unevaluated} finished executions without an "
        f"evaluation + {fig.sent_not_acked} 'sent' deliveries the sink never acknowledged + "
        f"{fig.acked_not_in_outbox} acknowledged keys missing from the outbox",
    ]
    if fig.jobs_left is not None:
        lines.append(f"  jobs left      {fig.jobs_left} Procrastinate jobs todo/doing at the end")
    drained = "not drained" if fig.drained_in is None else f"drained in {fig.drained_in:.1f} s"
    lines.append(f"  drain          {drained}")
    return "\n".join(lines)
