"""The message as the offline parser reads it: a working copy with what is understood
blanked out."""

from __future__ import annotations

import re


class Text:
    """The message, with the parts already understood blanked out (same length, so spans
    found in the working copy index the original)."""

    def __init__(self, message: str) -> None:
        self.original = message
        self.work = message

    def find(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        return pattern.search(self.work)

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        match = pattern.search(self.work)
        if match is not None:
            self.blank(match.start(), match.end())
        return match

    def blank(self, start: int, end: int) -> None:
        self.work = self.work[:start] + " " * (end - start) + self.work[end:]

    def mark(self, start: int, end: int) -> None:
        """Blank out a name: with a character no pattern reads as space, so the words
        around it do not become one phrase ("Should Queue Depth exceed" is no "should
        exceed")."""
        self.work = self.work[:start] + "\x01" * (end - start) + self.work[end:]

    def orig(self, match: re.Match[str], group: int | str = 0) -> str:
        return self.original[match.start(group) : match.end(group)]
