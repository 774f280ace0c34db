"""The offline parser's vocabulary: the phrasings it recognises, as patterns."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

_I = re.IGNORECASE

_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
    "twice": 2, "thrice": 3, "a": 1, "an": 1,
}  # fmt: skip
_NUMERAL = r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:k\b)?"
_NUMWORD = r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred)\b"  # noqa: E501
NUMBER = rf"(?:{_NUMERAL}|{_NUMWORD})"
UNIT = r"weeks?|w|days?|d|hours?|hrs?|hr|h|minutes?|mins?|min|m|seconds?|secs?|sec|s"
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_RUNS = r"(?:runs|checks|evaluations|times|readings|samples|polls)"


def number(text: str) -> Decimal:
    cleaned = text.strip().lower().replace(",", "").replace("\u2212", "-")
    if cleaned in _WORDS:
        return Decimal(_WORDS[cleaned])
    if cleaned.endswith("k"):
        return Decimal(cleaned[:-1]) * 1000
    return Decimal(cleaned)


def number_word(text: str) -> int:
    return int(number(text))


def duration_seconds(amount: str | None, unit: str) -> int:
    how_many = Decimal("0.5") if amount and amount.lower().startswith("half") else None
    how_many = how_many or number(amount or "1")
    return int(how_many * _UNIT_SECONDS[unit.lower()[0]])


# Intents ------------------------------------------------------------------------------
MUTE = re.compile(r"\b(?:mute|silence|snooze|quiet)\b", _I)
EXPLAIN = re.compile(r"\bwhy\b|\bexplain\b|\bwhat happened\b|\bhow come\b", _I)
LIST_METRICS = re.compile(r"\b(?:list|show|which|what)\b.*\bmetrics\b", _I)
LIST_ALERTS = re.compile(r"\b(?:list|show|which|what)\b.*\balerts\b|\bmy alerts\b", _I)
ALERT_VERB = re.compile(
    r"\b(?:notify|alert|tell|let me know|warn|ping|page|e-?mail|mail|text|message|wake)\b", _I
)
NEGATED = re.compile(
    r"\b(?:don't|dont|do not|never|no need to|stop)\s+(?:\w+\s+)?(?:notify|notifying|alert|"
    r"alerting|tell|e-?mail|page|paging|send|ping|warn|message|bother|create)\b",
    _I,
)
QUOTED = re.compile(r"[\"\u201c]([^\"\u201d]+)[\"\u201d]")
NAMED = re.compile(r"\b(?:called|named|name\s+it)\s+[\"\u201c']([^\"\u201d']+)[\"\u201d']", _I)
ALERT_REF = re.compile(r"(?P<ref>[\w\s'.-]+?)\s+alerts?\b", _I)
FOR_DURATION = re.compile(
    rf"\bfor\s+(?:the\s+next\s+)?(?P<n>{NUMBER}|half\s+an?|an?)?\s*(?P<unit>{UNIT})\b", _I
)

# Alert options -------------------------------------------------------------------------
NO_RESOLVE = re.compile(
    r"\b(?:no|without|skip)\s+(?:the\s+)?resolved?(?:\s+(?:notices?|notifications?|messages?))?"
    r"\b|\b(?:don't|dont|do not)\s+(?:notify|tell|ping)\s+(?:me|us)\s+when\s+it\s+(?:recovers|"
    r"resolves|clears|is resolved|goes back)\b",
    _I,
)
# When data breaks: what no data and a failing source mean, and whether to be told.
_SOURCE = r"(?:the\s+)?(?:query|source|check|endpoint|request|job|sql|api\s+call)"
_FAILS = r"(?:fails|failed|errors(?:\s+out)?|breaks|is\s+down|goes\s+down|times\s+out|crashes)"
_TELL = r"(?:alert|notify|tell|ping|page|warn|message)\s+(?:me|us)"
ON_ERROR_ALERTING = re.compile(
    rf"\b(?:(?:and|but|also)\s+)?(?:{_TELL}\s+)?(?:also\s+)?(?:if|when)\s+{_SOURCE}\s+(?:itself\s+)?"
    rf"{_FAILS}\b|\btreat\s+(?:query\s+|source\s+)?(?:errors|failures)\s+as\s+(?:alerting|"
    r"firing|a\s+breach|breaches)\b",
    _I,
)
ON_ERROR_OK = re.compile(
    r"\btreat\s+(?:query\s+|source\s+)?(?:errors|failures)\s+as\s+(?:ok|fine|normal|healthy)\b",
    _I,
)
_MISSING = r"(?:missing|no|absent)\s+data"
ON_NO_DATA_OK = re.compile(
    rf"\btreat\s+{_MISSING}\s+as\s+(?:ok|fine|normal|healthy|clear)\b|\b{_MISSING}\s+is\s+"
    r"(?:ok|fine|normal|expected)\b",
    _I,
)
ON_NO_DATA_ALERTING = re.compile(
    rf"\btreat\s+{_MISSING}\s+as\s+(?:alerting|firing|a\s+breach|a\s+problem)\b|"
    rf"\b(?:(?:and|but|also)\s+)?(?:{_TELL}\s+)?(?:also\s+)?(?:if|when)\s+(?:the\s+)?data\s+"
    r"(?:stops|goes\s+missing|is\s+missing|dries\s+up)(?:\s+(?:coming|arriving))?\b",
    _I,
)
NO_FAILURE_NOTICE = re.compile(
    r"\b(?:(?:but|and)\s+)?(?:please\s+)?(?:don't|dont|do\s+not)\s+(?:notify|tell|ping|alert|bother)\s+(?:me|us)\s+(?:about|"
    r"of|on)\s+(?:query\s+|source\s+)?(?:errors|failures|missing\s+data|no\s+data)\b|"
    r"\bno\s+failure\s+notices?\b",
    _I,
)
NO_RESOLVE_WHILE_MUTED = re.compile(
    r"\b(?:no|drop|skip)\s+resolves?\s+(?:notices?\s+)?while\s+muted\b", _I
)
RECOVER_WHEN = re.compile(
    r"\b(?:and\s+|but\s+)?(?:only\s+)?(?:recover|resolve|clear)s?\s+(?:only\s+)?(?:once\s+|when\s+|"
    r"if\s+)?(?:it(?:'s|\s+is|\s+goes|\s+drops|\s+falls|\s+gets|\s+comes)?\s+)?(?:back\s+)?"
    rf"(?P<dir>below|under|less\s+than|above|over|more\s+than)\s+(?P<num>{NUMBER})\b",
    _I,
)
RECOVER_DIRECTIONS = {"below": "lt", "under": "lt", "less than": "lt", "above": "gt", "over": "gt",
                      "more than": "gt"}  # fmt: skip
KEEP_FIRING = re.compile(
    rf"\b(?:and\s+)?(?:keep|stay)\s+(?:it\s+)?(?:firing|triggered)\s+(?:for\s+)?"
    rf"(?:(?P<n>{NUMBER}|half\s+an?|an?)\s*)?(?P<unit>{UNIT})"
    r"(?:\s+(?:after\s+it\s+(?:clears|recovers)|more|longer))?\b",
    _I,
)
HELD_FOR = re.compile(
    rf"\b(?:for|lasting|sustained\s+for|held\s+for)\s+(?:at\s+least\s+|more\s+than\s+|"
    rf"over\s+)?(?:(?P<n>{NUMBER}|half\s+an?|an?)\s*)?(?P<unit>{UNIT})"
    r"(?:\s+(?:straight|in\s+a\s+row|continuously))?\b",
    _I,
)
REMIND_EVERY = re.compile(
    rf"\b(?:and\s+)?(?:remind|re-?notify|nudge)\s+(?:me|us)\s+(?:again\s+)?(?:every|each)\s+"
    rf"(?:(?P<n>{NUMBER})\s*)?(?P<unit>{UNIT})\b(?:\s+(?:while|until|as\s+long\s+as)\s+it\s+"
    r"(?:stays\s+(?:triggered|firing|high|low)|lasts|is\s+(?:firing|triggered)|holds))?",
    _I,
)
NO_SPAM = re.compile(
    r"\b(?:but\s+)?(?:please\s+)?(?:don't|dont|do not)\s+spam(?:\s+(?:me|us))?", _I
)
NO_COOLDOWN = re.compile(
    r"\b(?:every single time|every time|each time|no cool-?down|without (?:a )?cool-?down|"
    r"cool-?down (?:of )?0)\b",
    _I,
)
ONCE_PER = re.compile(
    rf"\b(?:(?:at most|no more than|not more than|max(?:imum)?|only)\s+)?once\s+(?:an?|per|"
    rf"every|each|in\s+an?)\s+(?:(?P<n>{NUMBER})\s*)?(?P<unit>{UNIT})\b",
    _I,
)
COOLDOWN = re.compile(
    rf"\bcool-?down(?:\s+(?:of|is))?\s*[:=]?\s*(?P<n>{NUMBER})\s*(?P<unit>{UNIT})\b", _I
)
PENDING = [
    re.compile(
        rf"\bfor\s+(?P<n>{NUMBER})\s+(?:consecutive\s+|straight\s+)?{_RUNS}(?:\s+in\s+a\s+row)?\b",
        _I,
    ),
    re.compile(rf"\b(?P<n>{NUMBER}|twice|thrice)\s+(?:{_RUNS}\s+)?in\s+a\s+row\b", _I),
    re.compile(rf"\b(?P<n>{NUMBER})\s+(?:consecutive|straight)\s+{_RUNS}\b", _I),
]

# Destinations --------------------------------------------------------------------------
URL = re.compile(r"https?://[^\s<>\"']+", _I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SLACK_CHANNEL = re.compile(r"(?P<chan>#[A-Za-z0-9][\w.-]*|(?<=channel )C[A-Z0-9]{6,}\b)")
PD_KEY = re.compile(r"\b(?:pager-?duty|routing)\s+(?:routing\s+)?key\s+(?P<key>[\w-]{8,64})\b", _I)
PAGE = re.compile(
    r"\b(?:page|wake up)\s+(?:me|us|the\s+on-?call|someone|whoever is on call)\b|"
    r"\bpager-?duty\b",
    _I,
)
LOG = re.compile(
    r"\b(?:just\s+log(?:\s+it)?|log\s+(?:it|only)|(?:to|in)\s+the\s+log|write\s+a\s+log"
    r"(?:\s+line)?)\b",
    _I,
)
SLACK_WORD = re.compile(r"\bslack\b", _I)
EMAIL_ME = re.compile(r"\b(?:e-?mail|mail)\s+(?:me|us)\b|\b(?:by|via)\s+e-?mail\b", _I)

# Conditions ----------------------------------------------------------------------------
RUNS_BACK = re.compile(
    rf"\b(?:vs\.?|versus|compared\s+(?:to|with)|from|than)\s+(?P<n>{NUMBER})\s+runs?\s+"
    r"(?:ago|back|before|earlier)\b",
    _I,
)
PREVIOUS_RUN = re.compile(
    r"\b(?:day[\s-]over[\s-]day|run[\s-]over[\s-]run|(?:since|from|vs\.?|versus|compared\s+"
    r"(?:to|with)|than)\s+the\s+(?:last|previous|prior)\s+(?:run|check|value|reading))\b",
    _I,
)
_DOWN = (
    r"drops?|dropped|dropping|falls?|fell|falling|decreases?|decreased|declines?|declined|"
    r"dips?|dipped|shrinks?|shrank|goes down|went down|down"
)
_UP = (
    r"rises?|rose|rising|increases?|increased|grows?|grew|goes up|went up|jumps?|jumped|"
    r"spikes?|spiked|climbs?|climbed|up"
)
_EITHER = r"changes?|changed|moves?|moved|swings?|varies"
CHANGE = re.compile(
    rf"\b(?P<verb>{_DOWN}|{_UP}|{_EITHER})\s+(?P<by>by\s+)?(?:(?P<op>more than|over|at least|"
    rf"no less than|less than|under|at most|no more than|fewer than)\s+)?(?P<num>{NUMBER})\s*"
    r"(?P<pct>%|percent\b|per cent\b|pct\b)?(?:\s+(?P<post>or more|or less))?",
    _I,
)
CHANGE_MORE = {"more than", "over"}
CHANGE_LESS = {"less than", "under", "at most", "no more than", "fewer than"}


def find_change(work: str) -> re.Match[str] | None:
    """A change phrase; without "by" or a percent sign "drops 5" could be a level."""
    for match in CHANGE.finditer(work):
        if match.group("by") or match.group("pct"):
            return match
    return None


def direction(verb: str) -> int:
    if re.fullmatch(_DOWN, verb, _I):
        return -1
    if re.fullmatch(_UP, verb, _I):
        return 1
    return 0


_OP_PHRASES: dict[str, list[str]] = {
    "gte": [">=", "=>", "\u2265", "greater than or equal to", "more than or equal to",
            "at least", "at or above", "at or over", "no less than", "not less than",
            "no fewer than", "gte"],
    "lte": ["<=", "=<", "\u2264", "less than or equal to", "at most", "at or below",
            "at or under", "no more than", "not more than", "lte"],
    "ne": ["!=", "<>", "\u2260", "is not equal to", "not equal to", "does not equal",
           "doesn't equal", "is not", "isn't", "isnt", "is anything but", "differs from", "ne"],
    "eq": ["==", "=", "equals", "is equal to", "equal to", "is exactly", "eq"],
    "gt": [">", "above", "more than", "greater than", "higher than", "over", "exceeds",
           "exceed", "tops", "gt"],
    "lt": ["<", "below", "under", "less than", "fewer than", "lower than", "lt"],
}  # fmt: skip
_PHRASE_OP = {p: op for op, phrases in _OP_PHRASES.items() for p in phrases}
_INVERSE = {"gt": "lte", "lte": "gt", "lt": "gte", "gte": "lt", "eq": "ne", "ne": "eq"}


def _alternative(phrase: str) -> str:
    if phrase[0].isalpha():
        return r"\b" + r"\s+".join(re.escape(w) for w in phrase.split()) + r"\b"
    return r"(?<![<>=!])" + re.escape(phrase) + r"(?![<>=])"


# "isn't above 5", "does not go above 5", "not more than 5": the negation is read with
# its operator and inverts it. "never" and "shouldn't" are not here: they are about time or
# expectation ("should not exceed 5" usually means "alert when it does"), so a leftover
# negation makes the planner ask instead.
_NOT = (
    r"(?P<not>\b(?:(?:is|are|was|were|does|do|did|has|have|will)\s+not|isn'?t|aren'?t|wasn'?t|"
    r"weren'?t|doesn'?t|don'?t|didn'?t|hasn'?t|haven'?t|won'?t|not)\s+(?:(?:ever|go|goes|get|"
    r"gets|rise|rises|climb|climbs|fall|falls|drop|drops|dip|dips|be|stay|stays|remain|"
    r"remains|grow|grows|move|moves)\s+)?)?"
)
_OP_RE = re.compile(
    _NOT
    + "(?P<op>"
    + "|".join(_alternative(p) for p in sorted(_PHRASE_OP, key=len, reverse=True))
    + rf")\s*(?P<num>{NUMBER})\s*(?P<pct>%|percent\b|per cent\b)?",
    _I,
)
_POSTFIX_RE = re.compile(
    rf"(?P<num>{NUMBER})\s*(?P<pct>%|percent\b)?\s+or\s+(?P<post>more|above|higher|greater|"
    r"over|less|fewer|below|lower|under)\b",
    _I,
)
_IS_RE = re.compile(
    rf"\b(?P<op>is|are|hits|reaches|becomes|equals?)\s+(?P<num>{NUMBER})(?!\s*{_RUNS})"
    r"\s*(?P<pct>%)?",
    _I,
)
UNLESS = re.compile(r"\b(?:unless|except\s+(?:when|if)|except\s+for\s+when)\b", _I)


class Op(NamedTuple):
    """An "operator number" found in the message; ``negated`` when a "not" was read with
    it (``op`` is then already inverted)."""

    start: int
    end: int
    op: str
    value: Decimal
    percent: bool
    negated: bool = False


def inverse(op: str) -> str:
    return _INVERSE[op]


def find_ops(work: str) -> list[Op]:
    """Every "operator number" in ``work``."""
    found: list[Op] = []
    for m in _OP_RE.finditer(work):
        op = _PHRASE_OP[" ".join(m.group("op").lower().split())]
        negated = bool(m.group("not"))
        op = _INVERSE[op] if negated else op
        found.append(
            Op(m.start(), m.end(), op, number(m.group("num")), bool(m.group("pct")), negated)
        )
    if found:
        return found
    for m in _POSTFIX_RE.finditer(work):
        op = "gte" if m.group("post").lower() in ("more", "above", "higher", "greater") else "lte"
        found.append(Op(m.start(), m.end(), op, number(m.group("num")), bool(m.group("pct"))))
    if found:
        return found
    for m in _IS_RE.finditer(work):
        op = "gte" if m.group("op").lower() in ("hits", "reaches") else "eq"
        found.append(Op(m.start(), m.end(), op, number(m.group("num")), bool(m.group("pct"))))
    return found


def any_op(work: str) -> bool:
    return bool(_OP_RE.search(work))


# What is left once everything else is read: the metric (or alert) the user named ------
def _wordset(text: str) -> set[str]:
    return set(text.split())


_TRIGGER = re.compile(r"\b(?:if|when|whenever|once|should|as soon as)\b", _I)
_FILLER = _wordset(
    "notify notified me us alert tell let know please can you could would i want to be if "
    "when whenever once the my our on via in with and send a an message ping warn is are was "
    "goes go gets get becomes ever rises rise drops drop falls fall climbs stays it there hey "
    "hi set up create make new for that then slack email e-mail mail text page webhook log "
    "value metric number"
)
_ALERT_FILLER = _FILLER | _wordset(
    "why didn't didnt did does doesn't doesnt fire fired firing fires trigger triggered "
    "triggering not off went keep keeps kept still so often much explain what happened how "
    "come alert alerts mute silence snooze quiet has hasn't"
)


def _keep(text: str, filler: set[str]) -> str:
    words = re.findall(r"[\w'.#-]+", text)
    kept = [w.strip(".'") for w in words if w.lower().strip(".'?!,") not in filler]
    return " ".join(w for w in kept if w)


def metric_phrase(work: str) -> str:
    triggers = list(_TRIGGER.finditer(work))
    if triggers:
        after = _keep(work[triggers[-1].end() :], _FILLER)
        if after:
            return after
    return _keep(work, _FILLER)


def strip_filler(text: str) -> str:
    return _keep(text, _ALERT_FILLER)


# Words that carry no meaning of their own once the rest is read ("as soon as", "post to").
_LEFTOVER_FILLER = _FILLER | _wordset(
    "should as soon to at be ever any anytime just do from this of by alerts post posts "
    "hook channel goes rises drops falls dips dip jumps spikes sinks gets reaches hits "
    "notification notifications ok "
    "okay thanks thank"
)


def leftover_words(work: str, phrase: str) -> list[str]:
    """The words of ``work`` no reading used, beyond filler and the metric ``phrase``."""
    named = {w.lower().strip(".'") for w in re.findall(r"[\w'.#-]+", phrase)}
    left = []
    for word in re.findall(r"[\w'.#%+\u2212-]+", work):
        bare = word.strip(".'?!,;:")
        if bare and bare.lower() not in _LEFTOVER_FILLER and bare.lower() not in named:
            left.append(bare)
    return left
