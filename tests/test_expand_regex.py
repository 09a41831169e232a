"""Regex filters in linear time (RE2): on the patterns both engines accept and ASCII text, a full match
answers as Python's `re` does, and a pattern that makes `re` backtrack exponentially is answered at once."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termsvc import deadline
from termsvc.errors import Invalid
from termsvc.valuesets.safe_regex import compile_safe

_ATOMS = st.sampled_from(["a", "b", ".", "[ab]", "[^a]", r"\d", r"\w", "x", "(a|b)", "(ab)", "(a*)", "(b+)"])
_QUANT = st.sampled_from(["", "*", "+", "?", "{2}", "{1,3}", "{0,2}?", "*?"])


@st.composite
def patterns(draw: st.DrawFn, depth: int = 2) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        atom = draw(patterns(depth - 1)) if depth and draw(st.booleans()) else draw(_ATOMS)
        parts.append(("(" + atom + ")" if depth else atom) + draw(_QUANT))
    pattern = "".join(parts)
    if draw(st.booleans()):
        pattern += "|" + draw(_ATOMS)
    return pattern


# One level of nesting: Python's `re`, the oracle here, backtracks exponentially on quantifiers nested three deep
# (a CI run met one such draw and spent 10 minutes in `re.fullmatch`); nesting deeper is what
# test_catastrophic_patterns_are_linear is for.
@settings(max_examples=300, deadline=None)
@given(pattern=patterns(depth=1), text=st.text(alphabet="abx1 _", max_size=8))
def test_full_match_agrees_with_re(pattern: str, text: str) -> None:
    assert bool(compile_safe(pattern).fullmatch(text)) == (re.fullmatch(pattern, text) is not None)


def test_anchors_and_case_flag_are_honoured() -> None:
    assert compile_safe("^(a+)+$").fullmatch("aaa")
    assert compile_safe("(?i)(A+)+b").fullmatch("aaB")
    assert not compile_safe("(a+)+").fullmatch("aab")


@pytest.mark.parametrize("pattern", ["((a+)+)+", "(.|.)*!", ".*" * 10 + "!"])
def test_catastrophic_patterns_are_linear(pattern: str) -> None:
    started = time.perf_counter()
    assert not compile_safe(pattern).fullmatch("a" * 20000 + "?")
    assert time.perf_counter() - started < 5  # exponential backtracking would never finish


@pytest.mark.parametrize("pattern", ["(?=a)a", r"(a)\1", "(?<!a)b"])
def test_backreferences_and_lookaround_are_refused_as_invalid(pattern: str) -> None:
    with pytest.raises(Invalid, match="not supported"):
        compile_safe(pattern)


def test_invalid_pattern_is_an_error_naming_it() -> None:
    with pytest.raises(Invalid, match=re.escape("'(a'")):
        compile_safe("(a")


def test_matching_many_values_stops_at_the_time_budget() -> None:
    matcher = compile_safe("a+")
    with deadline.budget(0.001), pytest.raises(deadline.BudgetExceeded):
        time.sleep(0.01)
        for _ in range(10_000):
            matcher.fullmatch("aaa")
