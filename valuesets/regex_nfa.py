"""Full-match regular expressions in linear time: Python's own parser (re._parser) gives the syntax tree,
which is compiled to a Thompson NFA and run as a set of states, so a pattern like `(a+)+` costs
O(len(text) x states) instead of backtracking without bound. Backreferences and lookaround cannot be
matched this way and are refused."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from termsvc.errors import Invalid, NotSupported

# the stdlib's own regex parser and its constants (private modules, so untyped here)
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

MAX_STATES = 20_000

CharTest = Callable[[str], bool]
# position test for anchors: (text, position) -> holds
AtTest = Callable[[str, int], bool]


@dataclass
class State:
    test: CharTest | None = None      # consumes one character that passes
    at: AtTest | None = None          # epsilon move allowed only where this holds
    out: list[int] = field(default_factory=list)
    final: bool = False


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_CATEGORIES: dict[Any, CharTest] = {
    sre.CATEGORY_DIGIT: str.isdecimal, sre.CATEGORY_NOT_DIGIT: lambda c: not c.isdecimal(),
    sre.CATEGORY_SPACE: str.isspace, sre.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
    sre.CATEGORY_WORD: _is_word, sre.CATEGORY_NOT_WORD: lambda c: not _is_word(c),
    sre.CATEGORY_LINEBREAK: lambda c: c == "\n", sre.CATEGORY_NOT_LINEBREAK: lambda c: c != "\n",
}


def _boundary(text: str, pos: int) -> bool:
    before = pos > 0 and _is_word(text[pos - 1])
    after = pos < len(text) and _is_word(text[pos])
    return before != after


_ANCHORS: dict[Any, AtTest] = {
    sre.AT_BEGINNING: lambda t, p: p == 0, sre.AT_BEGINNING_STRING: lambda t, p: p == 0,
    sre.AT_END: lambda t, p: p == len(t) or (p == len(t) - 1 and t[p] == "\n"),
    sre.AT_END_STRING: lambda t, p: p == len(t),
    sre.AT_BOUNDARY: _boundary, sre.AT_NON_BOUNDARY: lambda t, p: not _boundary(t, p),
}


class _Builder:
    def __init__(self, ignore_case: bool, dotall: bool) -> None:
        self.states: list[State] = []
        self.ignore_case = ignore_case
        self.dotall = dotall

    def new(self, **kwargs: Any) -> int:
        if len(self.states) >= MAX_STATES:
            raise Invalid(f"The regex needs more than {MAX_STATES} states to match safely", issue_code="too-costly")
        self.states.append(State(**kwargs))
        return len(self.states) - 1

    def _same(self, a: str, b: str) -> bool:
        return a == b or (self.ignore_case and a.lower() == b.lower())

    def _literal(self, code: int, *, negate: bool = False) -> CharTest:
        ch = chr(code)
        return lambda c: self._same(c, ch) != negate

    def _range(self, lo: int, hi: int) -> CharTest:
        def test(c: str) -> bool:
            if lo <= ord(c) <= hi:
                return True
            return self.ignore_case and (lo <= ord(c.lower()) <= hi or lo <= ord(c.upper()) <= hi)
        return test

    def _in(self, items: list[tuple[Any, Any]]) -> CharTest:
        negate = any(op is sre.NEGATE for op, _ in items)
        tests: list[CharTest] = []
        for op, av in items:
            if op is sre.LITERAL:
                tests.append(self._literal(av))
            elif op is sre.RANGE:
                tests.append(self._range(*av))
            elif op is sre.CATEGORY:
                tests.append(_CATEGORIES[av])
            elif op is not sre.NEGATE:
                raise NotSupported(f"The regex character class item {op} is not supported")
        return lambda c: any(t(c) for t in tests) != negate

    def char_test(self, op: Any, av: Any) -> CharTest:
        if op is sre.LITERAL:
            return self._literal(av)
        if op is sre.NOT_LITERAL:
            return self._literal(av, negate=True)
        if op is sre.ANY:
            return (lambda c: True) if self.dotall else (lambda c: c != "\n")
        if op is sre.IN:
            return self._in(list(av))
        raise NotSupported(f"The regex element {op} is not supported")

    def sequence(self, items: list[tuple[Any, Any]], end: int) -> int:
        """States matching `items` then continuing at `end`; returns the entry state."""
        entry = end
        for op, av in reversed(items):
            entry = self.element(op, av, entry)
        return entry

    def element(self, op: Any, av: Any, end: int) -> int:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            return self.new(test=self.char_test(op, av), out=[end])
        if op is sre.SUBPATTERN:
            return self.sequence(list(av[3]), end)
        if op is sre.ATOMIC_GROUP:
            return self.sequence(list(av), end)
        if op is sre.BRANCH:
            return self.new(out=[self.sequence(list(alt), end) for alt in av[1]])
        if op is sre.AT:
            if av not in _ANCHORS:
                raise NotSupported(f"The regex anchor {av} is not supported")
            return self.new(at=_ANCHORS[av], out=[end])
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, body = av
            return self.repeat(int(low), None if high is sre.MAXREPEAT else int(high), list(body), end)
        raise NotSupported(f"The regex uses {op} (backreferences or lookaround), which cannot be matched in "
                           "bounded time")

    def repeat(self, low: int, high: int | None, body: list[tuple[Any, Any]], end: int) -> int:
        entry = end
        if high is None:
            loop = self.new()
            self.states[loop].out = [self.sequence(body, loop), end]
            entry = loop
        else:
            for _ in range(high - low):
                entry = self.new(out=[self.sequence(body, entry), end])
        for _ in range(low):
            entry = self.sequence(body, entry)
        return entry


@dataclass(frozen=True)
class NfaPattern:
    pattern: str
    states: list[State]
    start: int

    def _closure(self, seeds: list[int], text: str, pos: int) -> set[int]:
        seen: set[int] = set()
        stack = list(seeds)
        while stack:
            index = stack.pop()
            if index in seen:
                continue
            seen.add(index)
            state = self.states[index]
            if state.test is None and (state.at is None or state.at(text, pos)):
                stack.extend(state.out)
        return seen

    def fullmatch(self, text: str) -> bool:
        current = self._closure([self.start], text, 0)
        for pos, ch in enumerate(text):
            moved = [o for i in current if (t := self.states[i].test) is not None and t(ch) for o in self.states[i].out]
            if not moved:
                return False
            current = self._closure(moved, text, pos + 1)
        return any(self.states[i].final for i in current)


def compile_nfa(pattern: str) -> NfaPattern:
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise Invalid(f"The regex '{pattern}' is not valid: {exc}") from None
    flags = parsed.state.flags
    builder = _Builder(bool(flags & re.IGNORECASE), bool(flags & re.DOTALL))
    final = builder.new(final=True)
    start = builder.sequence(list(parsed), final)
    return NfaPattern(pattern, builder.states, start)
