"""Matching what a user calls a metric or an alert to the names this org has.

Case-insensitive, blind to punctuation and plural ``s``; a near miss is accepted only
when it is clearly the one meant, otherwise the caller asks, listing the closest names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

# A fuzzy match this close, with no rival near it, is a typo, not a different metric.
ACCEPT_RATIO = 0.84
RIVAL_GAP = 0.08
SUGGEST_RATIO = 0.5
_FILLER = {"the", "a", "an", "my", "our", "their", "its", "metric", "value", "number", "of"}


def tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def _key(text: str) -> str:
    return " ".join(tokens(text))


@dataclass
class NameMatch:
    kind: Literal["exact", "words", "fuzzy", "ambiguous", "unknown"]
    name: str | None = None
    candidates: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.name is not None


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return n > 0 and any(list(haystack[i : i + n]) == list(needle) for i in range(len(haystack)))


def find_in_text(text: str, names: Iterable[str]) -> list[str]:
    """Names written out whole in ``text``; a name inside a longer found one is dropped
    ("Signups" when "Daily Signups" is there)."""
    words = tokens(text)
    found = [n for n in dict.fromkeys(names) if _contains(words, tokens(n))]
    return [n for n in found if not any(o != n and _contains(tokens(o), tokens(n)) for o in found)]


def resolve(phrase: str, names: Sequence[str]) -> NameMatch:
    """The one name ``phrase`` means, or why there is not one."""
    key = _key(phrase)
    if not key:
        return NameMatch("unknown", candidates=list(names[:5]))
    exact = [n for n in names if n.strip().lower() == phrase.strip().lower()]
    exact = exact or [n for n in names if _key(n) == key]
    if len(exact) == 1:
        return NameMatch("exact", exact[0])
    if len(exact) > 1:
        return NameMatch("ambiguous", candidates=exact)
    words = set(tokens(phrase))
    meaningful = words - _FILLER or words
    containing = [n for n in names if meaningful <= set(tokens(n))]
    if len(containing) == 1:
        return NameMatch("words", containing[0])
    if len(containing) > 1:
        return NameMatch("ambiguous", candidates=sorted(containing))
    scored = sorted(
        ((difflib.SequenceMatcher(None, key, _key(n)).ratio(), n) for n in names),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if scored and scored[0][0] >= ACCEPT_RATIO:
        if len(scored) == 1 or scored[1][0] < scored[0][0] - RIVAL_GAP:
            return NameMatch("fuzzy", scored[0][1])
        close = [n for r, n in scored if r >= scored[0][0] - RIVAL_GAP]
        return NameMatch("ambiguous", candidates=close)
    return NameMatch("unknown", candidates=[n for r, n in scored[:3] if r >= SUGGEST_RATIO])


def either(names: Sequence[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    if len(quoted) <= 2:
        return " or ".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def name_spans(text: str, names: Iterable[str]) -> list[tuple[int, int]]:
    """Where each of ``names`` is written in ``text`` (as :func:`find_in_text` matches it:
    any case and punctuation between words, plural ``s`` or not)."""
    spans: list[tuple[int, int]] = []
    for name in names:
        parts = [re.escape(t) + "s?" for t in tokens(name)]
        if not parts:
            continue
        pattern = r"(?<![a-z0-9])" + r"[^a-z0-9]+".join(parts) + r"(?![a-z0-9])"
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return spans
