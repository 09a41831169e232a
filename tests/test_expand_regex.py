"""Regex filters in bounded time: the NFA used for nested quantifiers answers as Python's `re` does, and
a pattern that makes `re` backtrack exponentially is answered at once."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termsvc.errors import NotSupported, TermsvcError
from termsvc.valuesets.regex_nfa import compile_nfa

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


@settings(max_examples=300, deadline=None)
@given(pattern=patterns(), text=st.text(alphabet="abx1 _", max_size=8))
def test_nfa_full_match_agrees_with_re(pattern: str, text: str) -> None:
    assert compile_nfa(pattern).fullmatch(text) == (re.fullmatch(pattern, text) is not None)


def test_anchors_and_case_flag_are_honoured() -> None:
    assert compile_nfa("^(a+)+$").fullmatch("aaa")
    assert compile_nfa("(?i)(A+)+b").fullmatch("aaB")
    assert not compile_nfa("(a+)+").fullmatch("aab")


def test_catastrophic_pattern_is_linear() -> None:
    started = time.perf_counter()
    assert not compile_nfa("((a+)+)+").fullmatch("a" * 5000 + "!")
    assert time.perf_counter() - started < 5  # exponential backtracking would never finish


def test_lookaround_is_refused_as_unsupported() -> None:
    with pytest.raises(NotSupported, match="lookaround"):
        compile_nfa("(?=a)a")


def test_invalid_pattern_is_an_error_naming_it() -> None:
    with pytest.raises(TermsvcError, match="not valid"):
        compile_nfa("(a")
