"""The offline planner: a deterministic reading of the common phrasings.

It recognises what it can (destinations, cooldown, pending runs, the condition) and
blanks each piece out, so what remains names the metric. Anything it cannot read with
confidence becomes a :class:`Clarify` with an example, never a guessed alert.
"""

from __future__ import annotations

import re
from typing import Any

from tocsin.ai import meaning
from tocsin.ai import phrases as ph
from tocsin.ai.destinations import take_destinations
from tocsin.ai.names import either, find_in_text, name_spans, resolve
from tocsin.ai.proposals import (
    Clarify,
    CreateAlertArgs,
    Cue,
    ExplainAlertArgs,
    ListAlertsArgs,
    ListMetrics,
    MuteAlertArgs,
    Parsed,
)
from tocsin.ai.series_plan import (
    MetricSeries,
    SeriesOf,
    series_cues,
    series_fields,
    take_series,
)
from tocsin.ai.worktext import Text
from tocsin.alerts.decision import OP_SYMBOLS
from tocsin.numbers import format_decimal

EXAMPLE = 'e.g. "Notify me on Slack #ops if Open Issues > 5"'
HELP = (
    'I can create an alert from a sentence such as "Notify me on Slack #ops if Open Issues '
    '> 5" or "email me when Daily Signups drops by more than 20%", list alerts ("list '
    'my alerts"), mute one ("mute the signups alert for 2 hours") or explain one ("why '
    "didn't the errors alert fire?\")."
)


def parse(
    message: str,
    metrics: list[str],
    alerts: list[str],
    *,
    pagerduty_key: str | None = None,
    series_of: SeriesOf | None = None,
) -> Parsed:
    """Read ``message`` against this org's metric and alert names (``series_of``: the
    labels of a metric's series, by name; without it no metric has series)."""
    text = Text(" ".join(message.replace("\u2019", "'").split()))
    if not text.work:
        return Parsed(Clarify("Please say what you want. " + HELP))
    if text.find(ph.MUTE):
        return _mute(text, alerts)
    if text.find(ph.EXPLAIN):
        return _explain(text, alerts)
    if text.find(ph.LIST_METRICS):
        return Parsed(ListMetrics())
    if text.find(ph.LIST_ALERTS) and not ph.any_op(text.work):
        found = find_in_text(text.original, metrics)
        return Parsed(ListAlertsArgs(metric=found[0] if len(found) == 1 else None))
    return _create(text, metrics, pagerduty_key, series_of or _no_series)


def _mute(text: Text, alerts: list[str]) -> Parsed:
    text.take(ph.MUTE)
    duration = text.take(ph.FOR_DURATION)
    ref = _alert_ref(text, alerts)
    if ref is None:
        return Parsed(
            Clarify('Which alert? e.g. "mute the signups alert for 2 hours"', "mute_alert")
        )
    if duration is None:
        return Parsed(
            Clarify(f'For how long should I mute "{ref}"? e.g. "for 2 hours"', "mute_alert")
        )
    seconds = ph.duration_seconds(duration.group("n"), duration.group("unit"))
    return Parsed(MuteAlertArgs(alert=ref, duration_seconds=seconds))


def _explain(text: Text, alerts: list[str]) -> Parsed:
    text.take(ph.EXPLAIN)
    ref = _alert_ref(text, alerts)
    if ref is None:
        return Parsed(
            Clarify('Which alert? e.g. "why didn\'t the errors alert fire?"', "explain_alert")
        )
    return Parsed(ExplainAlertArgs(alert=ref))


def _alert_ref(text: Text, alerts: list[str]) -> str | None:
    written = find_in_text(text.original, alerts)
    if len(written) == 1:
        return written[0]
    quoted = ph.QUOTED.search(text.original)
    if quoted is not None:
        return quoted.group(1).strip()
    match = ph.ALERT_REF.search(text.work)
    words = match.group("ref") if match else text.work
    words = ph.strip_filler(words)
    return words or None


def _no_series(metric: str) -> MetricSeries:
    return MetricSeries((), False)


def _create(
    text: Text, metrics: list[str], pagerduty_key: str | None, series_of: SeriesOf
) -> Parsed:
    notes: list[str] = []
    fields: dict[str, Any] = {}
    # Before NO_RESOLVE ("no resolves while muted") and before NEGATED ("don't tell me
    # about errors" asks for an alert, without failure notices).
    if text.take(ph.NO_RESOLVE_WHILE_MUTED):
        fields["drop_resolve_when_muted"] = True
    if text.take(ph.NO_FAILURE_NOTICE):
        fields["failure_notice"] = False
    for pattern, key, choice in (
        (ph.ON_ERROR_ALERTING, "on_error", "alerting"),
        (ph.ON_ERROR_OK, "on_error", "ok"),
        (ph.ON_NO_DATA_ALERTING, "on_no_data", "alerting"),
        (ph.ON_NO_DATA_OK, "on_no_data", "ok"),
    ):
        if text.take(pattern):
            fields[key] = choice
    if (recover := text.take(ph.RECOVER_WHEN)) is not None:
        direction = " ".join(recover.group("dir").lower().split())
        fields["recovery_op"] = ph.RECOVER_DIRECTIONS[direction]
        fields["recovery_threshold"] = ph.number(recover.group("num"))
    if (remind := text.take(ph.REMIND_EVERY)) is not None:
        fields["repeat_every_seconds"] = ph.duration_seconds(
            remind.group("n") or "1", remind.group("unit")
        )
    if text.take(ph.NO_RESOLVE):
        fields["notify_on_resolve"] = False
    # "don't spam me" asks for the default cooldown, not for no alert.
    text.take(ph.NO_SPAM)
    if (negated := text.find(ph.NEGATED)) is not None:
        return Parsed(
            Clarify(
                "That reads as asking for no alert, so I created nothing. To stop an alert, "
                'mute it ("mute the errors alert for 2 hours") or run `tocsin alert disable`.'
            ),
            cues=[Cue("negation", text.orig(negated))],
        )
    name_match = text.take(ph.NAMED)
    name = name_match.group(1).strip() if name_match else None
    cooldown = _cooldown(text)
    if cooldown is not None:
        fields["cooldown_seconds"] = cooldown
        if cooldown == 0:
            # "every time it holds": every breaching run notifies, reminders included.
            fields.setdefault("repeat_every_seconds", 0)
    pending = _pending(text)
    if pending is not None:
        fields["pending_evaluations"] = pending
    # After the runs ("for 3 runs in a row"): what is left with a unit is a duration.
    for pattern, key in ((ph.KEEP_FIRING, "keep_firing_seconds"), (ph.HELD_FOR, "for_seconds")):
        if (held := text.take(pattern)) is not None:
            fields[key] = ph.duration_seconds(held.group("n"), held.group("unit"))
    actions = take_destinations(text, pagerduty_key)
    # A metric's own words are never read as cues or operators ("Weekly Signups").
    written = find_in_text(text.original, metrics)
    for start, end in name_spans(text.work, written):
        text.mark(start, end)
    lookback = _lookback(text)
    cues = _take_cues(text)
    if isinstance(actions, Clarify):
        return Parsed(actions, cues=cues)
    if cues:
        return Parsed(meaning.clarify(cues), cues=cues, unparsed=[c.text for c in cues])
    asked = take_series(text)
    condition = _condition(text, lookback, cues, notes)
    if isinstance(condition, Clarify):
        return Parsed(condition, cues=cues, unparsed=[c.text for c in cues if not c.handled])
    metric = _metric(text, metrics, written, condition is not None)
    phrase = metric[2] if isinstance(metric, tuple) else ph.metric_phrase(text.work)
    unparsed = ph.leftover_words(text.work, phrase)
    cues += meaning.leftover_cues(unparsed)
    if isinstance(metric, Clarify):
        return Parsed(metric, cues=cues, unparsed=unparsed)
    if any(not c.handled for c in cues):
        return Parsed(meaning.clarify(cues), cues=cues, unparsed=unparsed)
    if condition is None:
        if metric is None and not text.find(ph.ALERT_VERB):
            return Parsed(Clarify(HELP), cues=cues, unparsed=unparsed)
        named = metric[0] if metric else None
        what = f'"{named}"' if named else "the metric"
        return Parsed(
            Clarify(
                f"At what value of {what} should the alert fire? "
                f'e.g. "Notify me if {named or "Open Issues"} > 5"',
                "create_alert",
            ),
            cues=cues,
            unparsed=unparsed,
        )
    if metric is None:
        known = f" Your metrics: {either(metrics[:10])}." if metrics else " There are no metrics."
        return Parsed(
            Clarify(f"Which metric should this alert watch?{known} {EXAMPLE}", "create_alert"),
            cues=cues,
            unparsed=unparsed,
        )
    metric_name, how, _ = metric
    if how == "fuzzy":
        notes.append(f'read "{metric_name}" for the metric name you typed')
    labels, push = series_of(metric_name)
    series = series_fields(metric_name, labels, asked, push=push)
    cues += series_cues(asked, handled=not isinstance(series, Clarify))
    if isinstance(series, Clarify):
        return Parsed(series, cues=cues, unparsed=unparsed)
    args = CreateAlertArgs(
        metric=metric_name, action_config=actions, name=name, **condition, **fields, **series
    )
    return Parsed(args, notes, cues, unparsed)


def _take_cues(text: Text) -> list[Cue]:
    """Meaning-changing phrases this reading cannot express; blanked, so they do not end
    up in the metric's name or the condition ("less than 5 days ago")."""
    found = []
    for start, end, kind in meaning.find_cues(text.work):
        found.append(Cue(kind, text.original[start:end].strip()))
        text.blank(start, end)
    return found


def _lookback(text: Text) -> int | None:
    if (back := text.take(ph.RUNS_BACK)) is not None:
        return ph.number_word(back.group("n"))
    if text.take(ph.PREVIOUS_RUN) is not None:
        return 1
    return None


def _cooldown(text: Text) -> int | None:
    if text.take(ph.NO_COOLDOWN):
        return 0
    match = text.take(ph.ONCE_PER)
    if match is not None:
        return ph.duration_seconds(match.group("n") or "1", match.group("unit"))
    match = text.take(ph.COOLDOWN)
    if match is not None:
        return ph.duration_seconds(match.group("n"), match.group("unit"))
    return None


def _pending(text: Text) -> int | None:
    for pattern in ph.PENDING:
        match = text.take(pattern)
        if match is not None:
            return ph.number_word(match.group("n"))
    return None


def _condition(
    text: Text, lookback: int | None, cues: list[Cue], notes: list[str]
) -> dict[str, Any] | Clarify | None:
    """The condition's fields, a question, or None when there is no condition at all.
    Negations read here ("isn't above 5", "unless … below 5") are added to ``cues``."""
    unless = text.take(ph.UNLESS)
    said_unless = text.orig(unless) if unless is not None else ""
    change = ph.find_change(text.work)
    if change is not None:
        text.blank(change.start(), change.end())
        if unless is not None:
            # "unless it drops by 20%" is "changes by less than", which Tocsin cannot watch.
            cues.append(Cue("negation", said_unless))
            return meaning.clarify(cues)
        return _change(change, lookback or 1)
    ops = ph.find_ops(text.work)
    if len(ops) > 1:
        return Clarify(
            "One condition per alert, please: I found "
            + " and ".join(f'"{text.original[o.start : o.end].strip()}"' for o in ops)
            + ". Create one alert for each.",
            "create_alert",
        )
    if not ops:
        if unless is not None:
            cues.append(Cue("negation", said_unless, handled=True))
        if lookback is not None:
            return Clarify(
                'By how much should it change? e.g. "drops by more than 20% day over day"',
                "create_alert",
            )
        return None
    found = ops[0]
    text.blank(found.start, found.end)
    said = text.original[found.start : found.end].strip()
    op = found.op
    if found.negated:
        cues.append(Cue("negation", said, handled=True))
    if unless is not None:
        # "notify me if X > 5 unless …": the "unless" part is not the condition; two
        # negations ("unless it isn't above 5") are too easy to get backwards.
        if found.start < unless.start() or found.negated:
            cues.append(Cue("negation", said_unless))
            return meaning.clarify(cues)
        cues.append(Cue("negation", said_unless, handled=True))
        op = ph.inverse(op)
        said = f"{said_unless} … {said}"
    if found.negated or unless is not None:
        notes.append(f'read "{said}" as {OP_SYMBOLS[op]} {format_decimal(found.value)}')
    if found.percent and lookback is None:
        # "falls below 20%": the value itself, or a drop of 20%? Both are common.
        cues.append(Cue("percent", said))
        return meaning.clarify(cues)
    if lookback is None:
        return {"comparison_op": op, "threshold_value": found.value}
    return {
        "condition_type": "relative_change",
        "comparison_op": op,
        "threshold_value": found.value,
        "change_mode": "percent" if found.percent else "absolute",
        "lookback": lookback,
    }


def _change(match: re.Match[str], lookback: int) -> dict[str, Any] | Clarify:
    direction = ph.direction(match.group("verb"))
    amount = ph.number(match.group("num"))
    qualifier = " ".join((match.group("op") or "").lower().split())
    postfix = (match.group("post") or "").lower()
    if direction == 0:
        return Clarify(
            "Up or down? One alert watches one direction, e.g. "
            '"rises by more than 20%" or "drops by more than 20%".',
            "create_alert",
        )
    if qualifier in ph.CHANGE_LESS:
        return Clarify(
            'I can alert when it changes by more than an amount, e.g. "drops by more than '
            '20%", not by less than one.',
            "create_alert",
        )
    strict = qualifier in ph.CHANGE_MORE and "or" not in postfix
    op = ("gt" if strict else "gte") if direction > 0 else ("lt" if strict else "lte")
    return {
        "condition_type": "relative_change",
        "comparison_op": op,
        "threshold_value": abs(amount) * direction,
        "change_mode": "percent" if match.group("pct") else "absolute",
        "lookback": lookback,
    }


def _metric(
    text: Text, metrics: list[str], found: list[str], has_condition: bool
) -> tuple[str, str, str] | Clarify | None:
    """(name, how it matched, the words of the message that named it)."""
    if len(found) == 1:
        return found[0], "exact", ""
    if len(found) > 1:
        return Clarify(
            f"Which metric do you mean: {either(found)}? One alert watches one metric.",
            "create_alert",
            found,
        )
    phrase = ph.metric_phrase(text.work)
    if not phrase:
        return None
    match = resolve(phrase, metrics)
    if match.name is not None:
        return match.name, match.kind, phrase
    if match.kind == "ambiguous":
        return Clarify(
            f'"{phrase}" matches several metrics: which one, {either(match.candidates)}?',
            "create_alert",
            match.candidates,
        )
    if not has_condition and not match.candidates:
        return None
    close = f" Did you mean {either(match.candidates)}?" if match.candidates else ""
    known = "" if close or not metrics else f" Your metrics: {either(metrics[:10])}."
    return Clarify(
        f'I don\'t know a metric called "{phrase}".{close}{known}',
        "create_alert",
        match.candidates,
    )
