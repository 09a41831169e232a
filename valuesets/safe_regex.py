"""Regular expressions from value set filters, refused when they could backtrack without bound.

Python's `re` has no timeout, so time is bounded by what is accepted: no nested quantifiers (the cause of
catastrophic backtracking, as in `(a+)+`), no backreferences, a bounded pattern length, and matching only
against stored property values (short strings)."""

from __future__ import annotations

import re
from functools import lru_cache

from termsvc.errors import Invalid

MAX_PATTERN = 1000
_QUANTIFIER = re.compile(r"(?<!\\)(?:[*+]|\{\d+(?:,\d*)?\})")


def _group_bodies(pattern: str) -> list[tuple[str, int]]:
    """(body, end index) of each parenthesised group, innermost first."""
    stack: list[int] = []
    groups: list[tuple[str, int]] = []
    escaped = in_class = False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            stack.append(index)
        elif char == ")" and stack:
            start = stack.pop()
            groups.append((pattern[start + 1:index], index))
    return groups


@lru_cache(maxsize=256)
def compile_safe(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN:
        raise Invalid(f"The regex filter is longer than {MAX_PATTERN} characters", issue_code="too-costly")
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        raise Invalid(f"The regex '{pattern}' uses backreferences, which are not supported (unbounded time)",
                      issue_code="not-supported")
    for body, end in _group_bodies(pattern):
        follows = pattern[end + 1:end + 2]
        if follows in ("*", "+", "{") and _QUANTIFIER.search(body):
            raise Invalid(f"The regex '{pattern}' nests quantifiers, which could run for unbounded time",
                          issue_code="too-costly")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise Invalid(f"The regex '{pattern}' is not valid: {exc}") from None
