"""Words that change what an alert means, and the check that none was dropped.

An alert drafted without "for 10 minutes", "in the last hour", "week over week", "by SMS"
or "unless" fires at other times than the user asked for, so those words are never
silently ignored: the planner asks instead. Both engines go through here: the offline
parser blanks what it understood and asks about the cues left; a model's proposal is
compared with the offline reading of the same message (:func:`review`).
"""

from __future__ import annotations

import re

from tocsin.ai import phrases as ph
from tocsin.ai.proposals import Clarify, CreateAlertArgs, Cue, CueKind, Parsed
from tocsin.durations import format_duration

_I = re.IGNORECASE
_N = ph.NUMBER
_U = ph.UNIT
_LONG_UNIT = r"(?:weeks?|days?|hours?|hrs?|minutes?|mins?|seconds?|secs?|months?|years?)"
_AMOUNT = rf"(?:(?:{_N})\s*(?:{_U})|(?:an?|one|half\s+an?)\s+{_LONG_UNIT}|{_LONG_UNIT})"


def _re(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), _I)


# Order matters: the first pattern to match a span takes it.
PATTERNS: list[tuple[CueKind, re.Pattern[str]]] = [
    (
        "channel",
        _re(
            r"\bsms\b",
            r"\btext(?:s|ing)?\s+(?:me|us|message)\b",
            r"\b(?:phone\s+)?call\s+(?:me|us|my\s+phone)\b",
            r"\bphone(?:\s+call)?\b",
            r"\bring\s+(?:me|us)\b",
            r"\bwhats-?app\b",
            r"\btelegram\b",
            r"\b(?:ms|microsoft)\s+teams\b",
            r"\b(?:on|in|via|to|through)\s+teams\b",
            r"\bdiscord\b",
            r"\bmattermost\b",
            r"\b(?:on|via|through)\s+signal\b",
            r"\bpush\s+notifications?\b",
            r"\bpushover\b",
            r"\bopsgenie\b",
            r"\bimessage\b",
            r"\bdm\s+(?:me|us)\b",
            r"\bdirect\s+message\b",
            r"(?<![\w.])\+\d{1,3}[\s().-]*\d{2,4}[\s().-]*\d{3,4}(?:[\s().-]*\d{2,4})?",
            r"\b\d{3}[-.\s]\d{3}[-.\s]\d{4}\b",
        ),
    ),
    (
        "comparison",
        _re(
            r"\b(?:week|month|year|hour|quarter|minute)[\s-]+(?:over|on)[\s-]+"
            r"(?:week|month|year|hour|quarter|minute)\b",
            r"\b(?:wow|mom|yoy|qoq)\b",
            rf"\b{_AMOUNT}\s+"
            r"(?:ago|before|earlier|back|prior)\b",
            r"\b(?:(?:than|vs\.?|versus|compared\s+(?:to|with)|from|since)\s+)?(?:yesterday|"
            r"(?:the\s+)?(?:same\s+time\s+)?(?:last|previous|prior)\s+(?:week|month|year|night|"
            r"day))\b",
            r"\b(?:than|vs\.?|versus|compared\s+(?:to|with)|from)\s+(?:the\s+)?(?:usual|"
            r"normal|baseline|average|typical)\b",
        ),
    ),
    (
        "duration",
        _re(
            rf"\b(?:for|lasting|sustained\s+for|held\s+for)\s+(?:(?:at\s+least|more\s+than|over|"
            rf"longer\s+than|a\s+full|the\s+whole)\s+)?{_AMOUNT}\b",
            r"\bfor\s+(?:a\s+while|a\s+bit|some\s+time|long|a\s+long\s+time)\b",
            rf"\b(?:longer|more)\s+than\s+{_AMOUNT}\b",
            r"\b(?:sustained|consistently|continuously|persistently|constantly|steadily)\b",
        ),
    ),
    (
        "window",
        _re(
            rf"\b(?:in|over|during|within|across|for)\s+(?:the\s+)?(?:last|past|previous|"
            rf"recent|next|trailing)\s+(?:{_N}\s*)?(?:{_U}|{_LONG_UNIT}|runs|checks)\b",
            rf"\b(?:in|over|within)\s+(?:an?|one|{_N})\s*(?:{_U}|{_LONG_UNIT})\b",
            rf"\b(?:the\s+)?(?:last|past|trailing)\s+(?:{_N}\s*)?(?:{_U}|{_LONG_UNIT})\b",
            r"(?:\bper|\ban?|\beach|/)\s*(?:second|sec|minute|min|hour|hr|day|week)\b",
            r"\b(?:today|tonight|this\s+(?:week|month|year|hour))\b",
        ),
    ),
    (
        "aggregate",
        _re(
            r"\b(?:average|avg|mean|median|p\d{2,3}|\d{2}(?:th)?\s+percentile|percentile|"
            r"rolling|moving|sum|cumulative)\b",
        ),
    ),
    (
        "schedule",
        _re(
            rf"\bevery\s+(?:(?:{_N})\s*)?(?:{_U}|{_LONG_UNIT})\b",
            r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm)\b",
            r"\b(?:at|during\s+the)\s+(?:night|midnight|noon|weekend)\b",
            r"\b(?:on\s+)?(?:weekends?|weekdays?|mondays?|tuesdays?|wednesdays?|thursdays?|"
            r"fridays?|saturdays?|sundays?)\b",
            r"\b(?:business|office|working|work)\s+hours\b",
            r"\bovernight\b",
        ),
    ),
    (
        "expectation",
        _re(
            r"\b(?:should(?:n'?t)?|must(?:n'?t)?|ought\s+to|needs?\s+to|has\s+to|have\s+to|"
            r"(?:is|are)\s+supposed\s+to|(?:is|are)\s+expected\s+to)\s+(?:not\s+|never\s+|"
            r"always\s+)?(?:be|stay|remain|exceed|go|drop|fall|rise|keep|get|reach|hit|"
            r"top)\b",
            r"\bkeep\s+(?:it\s+)?(?:below|under|above|over)\b",
        ),
    ),
]

# Left over once everything understood is blanked out.
_NEGATION_WORD = re.compile(
    r"\b(?:not|no|never|unless|except|without|neither|nor|none|otherwise|else)\b|"
    r"\b\w+n't\b|\b(?:isnt|arent|wasnt|werent|doesnt|dont|didnt|wont|cant|shouldnt|mustnt|"
    r"wouldnt|couldnt|hasnt|havent|aint)\b",
    _I,
)
_TIME_WORD = re.compile(rf"\b(?:{_LONG_UNIT}|ago|since|until|till|while|yesterday)\b", _I)
_NUMBER_WORD = re.compile(r"[-+\u2212]?\d[\d,.]*k?%?", _I)

_WHY: dict[CueKind, str] = {
    "duration": 'Say how long the condition must hold, e.g. "for 10 minutes", or how many '
    'runs in a row, e.g. "for 3 runs in a row".',
    "window": "Tocsin alerts on each value the metric records, not on a time window: build "
    "the window into the metric's query, then alert on that metric.",
    "comparison": "Tocsin compares with an earlier run, not with a date: say how many runs "
    'back, e.g. "drops by more than 20% compared to 7 runs ago" (a daily metric).',
    "channel": "Tocsin cannot send that. It notifies on Slack (a #channel or an incoming-"
    'webhook URL), a webhook URL, e-mail, PagerDuty ("page me") or the log: which one?',
    "aggregate": "Tocsin alerts on each value the metric records, not on an average or a "
    "percentile of them: build that into the metric's query.",
    "schedule": "an alert is checked every time its metric runs, at any hour: Tocsin has no "
    "schedule for when an alert applies (the metric's schedule sets how often it runs).",
    "expectation": "that says what should happen, not when to alert: say the condition to "
    'alert on, e.g. "notify me if Queue Depth > 100".',
    "negation": "I could not tell what that negates: say the condition to alert on, e.g. "
    '"notify me if Open Issues <= 5".',
    "number": "I did not use that number: say the one condition to alert on, e.g. "
    '"notify me if Open Issues > 5".',
    "percent": "is {n}% the metric's own value (then say it without the %) or a change from "
    'the previous run (e.g. "drops by more than {n}%" or "rises by more than {n}%")?',
    "compound": "I read one condition only: say the one condition to alert on (one alert "
    'per condition), e.g. "notify me if Open Issues >= 5".',
    "series": "that asks for one alert per series, and the metric has one value per run: "
    "split it first (`tocsin metric update METRIC --series-by COLUMN`).",
}


def find_cues(work: str) -> list[tuple[int, int, CueKind]]:
    """The meaning-changing phrases in ``work``, without overlaps, in order."""
    spans: list[tuple[int, int, CueKind]] = []
    taken = [False] * len(work)
    for kind, pattern in PATTERNS:
        for m in pattern.finditer(work):
            if m.end() > m.start() and not any(taken[m.start() : m.end()]):
                spans.append((m.start(), m.end(), kind))
                taken[m.start() : m.end()] = [True] * (m.end() - m.start())
    return sorted(spans)


def leftover_cues(words: list[str]) -> list[Cue]:
    """Of the words no reading used, those that would change the alert's meaning."""
    found: list[Cue] = []
    for word in words:
        if _NEGATION_WORD.fullmatch(word):
            found.append(Cue("negation", word))
        elif _TIME_WORD.fullmatch(word):
            found.append(Cue("duration", word))
        elif _NUMBER_WORD.fullmatch(word):
            found.append(Cue("number", word))
        elif word.lower() in ("or", "but", "either", "both"):
            found.append(Cue("compound", word))
    return found


def question(cues: list[Cue]) -> str:
    """One question naming every unhandled cue and what Tocsin can do instead."""
    parts: list[str] = []
    for kind in dict.fromkeys(c.kind for c in cues if not c.handled):
        said = ", ".join(f'"{c.text}"' for c in cues if c.kind == kind and not c.handled)
        number = re.search(r"\d[\d,.]*", said)
        parts.append(f"{said}: " + _WHY[kind].replace("{n}", number.group() if number else "20"))
    return "I drafted no alert, because I cannot use everything you said. " + " ".join(parts)


def clarify(cues: list[Cue]) -> Clarify:
    return Clarify(question(cues), "create_alert")


def _condition(args: CreateAlertArgs) -> tuple[object, ...]:
    if args.condition_type == "threshold":
        return (args.condition_type, args.comparison_op, args.threshold_value)
    return (
        args.condition_type,
        args.comparison_op,
        args.threshold_value,
        args.change_mode,
        args.lookback,
    )


def _matchers(args: CreateAlertArgs) -> str:
    return ", ".join(args.series_filter) if args.series_filter else "none (every series)"


def review(proposal: CreateAlertArgs, reading: Parsed) -> Clarify | None:
    """A model's proposed alert against the offline reading of the same message.

    A model has no field for "in the last hour" or "by SMS", so when the message holds one
    the proposal dropped it: ask, as the offline parser does. A negation the reading
    understood ("unless … below 5") must come out the same in the proposal; otherwise the
    model may have inverted the alert, and the planner asks rather than guess which is right.
    """
    read = reading.result
    if isinstance(read, CreateAlertArgs):
        held = (read.for_seconds, read.keep_firing_seconds)
        if held != (proposal.for_seconds, proposal.keep_firing_seconds) and any(held):
            return Clarify(
                f"Your message asks it to hold for {format_duration(read.for_seconds)}"
                + (
                    f" and keep firing {format_duration(read.keep_firing_seconds)}"
                    if read.keep_firing_seconds
                    else ""
                )  # fmt: skip
                + '; the drafted alert does not. Say it again, e.g. "notify me if Queue '
                'Depth > 100 for 10 minutes".',
                "create_alert",
            )
    if not reading.cues:
        return None
    if any(not c.handled for c in reading.cues):
        if isinstance(reading.result, Clarify):
            return reading.result
        return clarify(reading.cues)
    said = ", ".join(f'"{c.text}"' for c in reading.cues)
    if not isinstance(reading.result, CreateAlertArgs):
        return Clarify(
            f"Your message says {said}; I could not check that the drafted alert keeps it. "
            'Say the condition to alert on without a negation, e.g. "notify me if Open '
            'Issues <= 5".',
            "create_alert",
        )
    series = [f'"{c.text}"' for c in reading.cues if c.kind == "series"]
    if series and sorted(proposal.series_filter) != sorted(reading.result.series_filter):
        return Clarify(
            f"Your message says {', '.join(series)}: I read the series "
            f"filter {_matchers(reading.result)}, the model proposed {_matchers(proposal)}. "
            'Say which series to watch, e.g. "except service=batch" or "only for '
            'service=api".',
            "create_alert",
        )
    if _condition(proposal) != _condition(reading.result):
        return Clarify(
            f"Your message says {said}, and the drafted condition may have lost it: I read "
            f"{reading.result.comparison_op} {reading.result.threshold_value}, the model "
            f"proposed {proposal.comparison_op} {proposal.threshold_value}. Say the condition "
            'to alert on without a negation, e.g. "notify me if Open Issues <= 5".',
            "create_alert",
        )
    return None
