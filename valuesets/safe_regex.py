"""Regular expressions from value set filters, matched in bounded time.

Python's `re` has no timeout and backtracks. A pattern with nested quantifiers (the cause of catastrophic
backtracking, as in `(a+)+`) is matched by a linear-time NFA instead (regex_nfa); the rest by `re`, whose
worst case without nesting is polynomial in the (short) stored values. Backreferences are refused, and the
pattern length is bounded."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

from termsvc.errors import Invalid
from termsvc.valuesets.regex_nfa import compile_nfa

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


class FullMatcher(Protocol):
    def fullmatch(self, text: str, /) -> object: ...


def nests_quantifiers(pattern: str) -> bool:
    for body, end in _group_bodies(pattern):
        follows = pattern[end + 1:end + 2]
        if follows in ("*", "+", "{") and _QUANTIFIER.search(body):
            return True
    return False


@lru_cache(maxsize=256)
def compile_safe(pattern: str) -> FullMatcher:
    if len(pattern) > MAX_PATTERN:
        raise Invalid(f"The regex filter is longer than {MAX_PATTERN} characters", issue_code="too-costly")
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        raise Invalid(f"The regex '{pattern}' uses backreferences, which are not supported (unbounded time)",
                      issue_code="not-supported")
    if nests_quantifiers(pattern):
        return compile_nfa(pattern)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise Invalid(f"The regex '{pattern}' is not valid: {exc}") from None
