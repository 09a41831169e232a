"""Regular expressions from value set filters, matched in linear time by RE2 (google-re2), the engine the
reference servers use (FHIRsmith). RE2 never backtracks, so no pattern, however nested (`(.|.)*!`, `(a+)+`,
ten `.*` in a row), costs more than the length of the text times the size of the pattern; it refuses what it
cannot match that way (backreferences, lookaround), and those are a 400 naming the pattern.

Matching a whole code system still takes one match per concept: the matcher checks the request's time
budget (termsvc.deadline) as it goes, so a large code system answers too-costly rather than running on."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import re2

from termsvc import deadline
from termsvc.errors import Invalid

MAX_PATTERN = 1000
# the budget is checked every this many matches: often enough to stop within a few ms
CHECK_EVERY = 512
# memory RE2 may use for one compiled pattern (its default); a bigger pattern is refused, not swapped
MAX_MEMORY = 8 << 20


class FullMatcher(Protocol):
    def fullmatch(self, text: str, /) -> object: ...


class _Matcher:
    """RE2's fullmatch, with a look at the time budget every CHECK_EVERY calls."""

    def __init__(self, compiled: Any) -> None:
        self._fullmatch = compiled.fullmatch
        self._calls = 0

    def fullmatch(self, text: str, /) -> object:
        self._calls += 1
        if self._calls % CHECK_EVERY == 0:
            deadline.check()
        return self._fullmatch(text)


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the client's error, answered as such, not logged
    options.max_mem = MAX_MEMORY
    return options


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise Invalid(f"The regex filter is longer than {MAX_PATTERN} characters", issue_code="too-costly")
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise Invalid(f"The regex '{pattern}' is not supported: {reason} (regex filters use RE2 syntax: no "
                      "backreferences or lookaround)", expression=["ValueSet.compose.include.filter.value"]) from None


def compile_safe(pattern: str) -> FullMatcher:
    """A full-match matcher for `pattern`; Invalid (400) when RE2 refuses it."""
    return _Matcher(_compiled(pattern))
