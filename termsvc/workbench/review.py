"""The interactive review loop: the most frequent code still pending, its context and ranked candidates; one
key per action. Each decision is committed as it is made, so quitting (or a crash) loses nothing.

Keys (single keys on a terminal, no Enter needed): a approve the top candidate (Enter shows what it would approve
and a second Enter approves it); 1-9 approve that candidate; / search names and synonyms; o back to the original
suggestions; r reject; f flag with a comment; e set the equivalence the approval of this code will carry; s skip;
u undo the last decision of this session (a new decision restoring the earlier state, taken off the session's
totals); q quit. Each candidate shows its LOINC axes in columns; the item under review is repeated under them so it
stays on screen at 80 columns."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, Engine, text

from termsvc.errors import TermsvcError
from termsvc.workbench import actions
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import StoredCode, all_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.suggest.store import code_system_id
from termsvc.workbench.suggest.vocabulary import split_long_name
from termsvc.workbench.suggesting import Ranked, cached, local_term, open_index
from termsvc.workbench.targets import target_version

HELP = "a approve top  1-9 pick  / search  o original  r reject  f flag  e equiv  s skip  u undo  q quit"
WIDTH = 80
AXES = ("COMPONENT", "PROPERTY", "SYSTEM", "SCALE_TYP", "METHOD_TYP")
_AXES_SQL = text("SELECT c.code, p.code, COALESCE(p.value_display, p.value) FROM concept c JOIN concept_property p "
                 "ON p.concept_id = c.concept_id WHERE c.code_system_id = :cs AND c.code IN :codes "
                 "AND p.code IN :axes")


def terminal_key(prompt: str, *, stream: TextIO = sys.stdin, out: TextIO = sys.stdout) -> str:
    """One key press, without Enter, from a terminal (Enter is ''); Ctrl-D or Ctrl-C end the session."""
    import termios
    import tty

    fd = stream.fileno()
    out.write(prompt)
    out.flush()
    saved = termios.tcgetattr(fd)
    try:
        # keys arrive one at a time, echoed by nobody (we print the key ourselves); TCSANOW, not the default
        # TCSAFLUSH, so a key typed ahead while the screen was drawn is read rather than thrown away
        tty.setcbreak(fd, termios.TCSANOW)
        pressed = os.read(fd, 4).decode("utf-8", errors="replace")[:1]
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    out.write(("" if pressed in ("\r", "\n") else pressed) + "\n")
    if pressed in ("\x03", "\x04", ""):
        raise EOFError
    return "" if pressed in ("\r", "\n") else pressed


@dataclass
class Session:
    decided: list[tuple[int, str]] = field(default_factory=list)  # (decision id, what it counted as), for undo
    skipped: set[int] = field(default_factory=set)
    approved: int = 0
    rejected: int = 0
    flagged: int = 0

    def count(self, decision_id: int, kind: str) -> None:
        self.decided.append((decision_id, kind))
        setattr(self, kind, getattr(self, kind) + 1)

    def uncount(self) -> int:
        decision_id, kind = self.decided.pop()
        setattr(self, kind, getattr(self, kind) - 1)
        return decision_id


def candidate_axes(conn: Connection, project: Project, codes: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each candidate's LOINC axes: as the release loaded them, else read from its long common name."""
    from sqlalchemy import bindparam

    out: dict[str, dict[str, str]] = {code: {} for code in codes}
    if not codes:
        return out
    target = target_version(conn, project)
    query = _AXES_SQL.bindparams(bindparam("codes", expanding=True), bindparam("axes", expanding=True))
    cs = code_system_id(conn, target.url, target.version or None)
    for code, prop, value in conn.execute(query, {"cs": cs, "codes": list(codes), "axes": list(AXES)}):
        out[code].setdefault(prop, value)
    return out


def _axes_row(display: str, loaded: dict[str, str]) -> list[str]:
    component, prop, system, timing, method = split_long_name(display)
    read = {"COMPONENT": component, "PROPERTY": prop or "", "SYSTEM": " ".join(filter(None, (timing, system))),
            "SCALE_TYP": "", "METHOD_TYP": method}
    return [loaded.get(axis) or read[axis] for axis in AXES]


class Reviewer:
    def __init__(self, engine: Engine, project: Project, reviewer: str, console: Console,
                 ask: Callable[[str], str], *, key: Callable[[str], str] | None = None, top: int = 9) -> None:
        """`ask` reads a line (search text, comments); `key` one key press (default: a line, as in scripts)."""
        self.engine, self.project, self.reviewer = engine, project, reviewer
        self.console, self.ask, self.top = console, ask, min(top, 9)
        self.key = key or ask
        self.session = Session()
        self._index: object | None = None

    def _index_or_build(self) -> object:
        if self._index is None:
            with self.engine.connect() as conn:
                self._index = open_index(conn, self.project, all_codes(conn, self.project))
        return self._index

    def _next(self, first: StoredCode | None) -> StoredCode | None:
        if first is not None:
            return first
        with self.engine.connect() as conn:
            states = d.current_states(conn, self.project)
            for code in all_codes(conn, self.project):
                if code.local_code_id not in self.session.skipped and \
                        states.get(code.local_code_id, d.State()).state == d.PENDING:
                    return code
        return None

    def _candidates(self, code: StoredCode) -> list[Ranked]:
        with self.engine.connect() as conn:
            found = cached(conn, code.local_code_id)
        if found:
            return found[:self.top]
        index = self._index_or_build()
        return [Ranked(code.code, i, s.target_code, s.target_display, s.score, s.explanation)
                for i, s in enumerate(index.suggest(local_term(code), top=self.top), 1)]  # type: ignore[attr-defined]

    def _show(self, code: StoredCode, candidates: list[Ranked], remaining: int) -> None:
        with self.engine.connect() as conn:
            state = d.current_state(conn, code.local_code_id)
            try:
                axes = candidate_axes(conn, self.project, [c.target_code for c in candidates])
            except TermsvcError:
                axes = {}
        self.console.rule(escape(f"{code.code}: {code.display}  ({remaining} pending)"))
        context = [f"count {code.count}"] + [f"{k} {v}" for k, v in (("units", code.units),
                                             ("specimen", code.specimen), ("category", code.category)) if v]
        context += [f"{k}={v}" for k, v in code.extra.items()]
        self.console.print("  ".join(context), highlight=False, markup=False)
        if state.comment:
            self.console.print(f"[yellow]note:[/] {escape(state.comment)}", highlight=False)
        if candidates:
            table = Table(show_header=True, header_style="bold", padding=(0, 1), pad_edge=False, expand=False)
            for column in ("#", "code", "component", "property", "system", "scale", "method", "score"):
                table.add_column(column, overflow="fold")
            for c in candidates:
                table.add_row(str(c.rank), escape(c.target_code),
                              *(escape(v) for v in _axes_row(c.display, axes.get(c.target_code, {}))),
                              f"{c.score:.3f}")
            self.console.print(table)
            self.console.print(escape(f"1: {candidates[0].display}"[:WIDTH]), highlight=False)
            self.console.print(escape(f"   {candidates[0].explanation}"[:WIDTH]), highlight=False)
        else:
            self.console.print("[dim]no candidates: search with /[/]")
        item = " | ".join(filter(None, (f"{code.code}: {code.display}", code.units, code.specimen)))
        self.console.print(escape(f">> {item}"[:WIDTH]), highlight=False, style="bold")
        self.console.print(HELP, highlight=False, markup=False)

    def _pending_count(self) -> int:
        with self.engine.connect() as conn:
            states = d.current_states(conn, self.project)
            return sum(1 for c in all_codes(conn, self.project)
                       if states.get(c.local_code_id, d.State()).state == d.PENDING)

    def _do(self, kind: str, action: Callable[..., int], *args: object, **kwargs: object) -> bool:
        try:
            with self.engine.begin() as conn:
                decision_id = action(conn, self.project, *args, **kwargs)
        except TermsvcError as exc:
            self.console.print(f"[bold red]refused:[/] {escape(exc.message)}", highlight=False)
            return False
        self.session.count(decision_id, kind)
        return True

    def run(self) -> Session:
        forced: StoredCode | None = None
        while True:
            code = self._next(forced)
            forced = None
            if code is None:
                self.console.print("[green]nothing left to review[/]")
                return self.session
            candidates = self._candidates(code)
            self._show(code, candidates, self._pending_count())
            outcome = self._handle(code, candidates)
            if outcome == "quit":
                return self.session
            if isinstance(outcome, StoredCode):
                forced = outcome

    def _handle(self, code: StoredCode, candidates: list[Ranked]) -> object:
        """Reads keys until one moves on: returns 'next', 'quit' or a code to show next (after undo)."""
        equivalence = "equivalent"
        original = candidates
        armed = False  # Enter pressed once: the top candidate was shown, a second Enter approves it
        while True:
            try:
                key = self.key("> ").strip()
            except EOFError:
                return "quit"
            if key == "" and not armed:
                if candidates:
                    armed = True
                    self.console.print(escape(f"Enter again (or a) approves 1: {candidates[0].target_code} "
                                              f"{candidates[0].display}"[:WIDTH * 2]), highlight=False)
                continue
            confirm = armed and key in ("", "y")
            armed = False
            if confirm or key == "a" or (key.isdecimal() and 1 <= int(key) <= len(candidates)):
                if not candidates:
                    self.console.print("no candidate to approve: search with / or reject with r")
                    continue
                chosen = candidates[0 if not key.isdecimal() else int(key) - 1]
                if self._do("approved", actions.approve, code, chosen.target_code, self.reviewer,
                            equivalence=equivalence):
                    self.console.print(escape(f"approved {code.code} -> {chosen.target_code} {chosen.display}"
                                              [:WIDTH * 2]), highlight=False)
                    return "next"
            elif key == "/":
                candidates = self._search() or candidates
                self._show(code, candidates, self._pending_count())
            elif key == "o":
                candidates = original
                self._show(code, candidates, self._pending_count())
            elif key == "r":
                if self._do("rejected", actions.reject, code, self.reviewer,
                            comment=self.ask("comment (optional): ").strip() or None):
                    return "next"
            elif key == "f":
                if self._do("flagged", actions.flag, code, self.reviewer, self.ask("comment: ").strip()):
                    return "next"
            elif key == "s":
                self.session.skipped.add(code.local_code_id)
                return "next"
            elif key == "u":
                undone = self._undo()
                if undone is not None:
                    return undone
            elif key == "e":
                value = self.ask(f"equivalence ({', '.join(d.EQUIVALENCES)}): ").strip()
                if value in d.EQUIVALENCES:
                    equivalence = value
                    self.console.print(f"the approval of {code.code} will be {value}", highlight=False)
                else:
                    self.console.print(f"{value!r} is not an R4 equivalence", highlight=False)
            elif key == "q":
                return "quit"
            else:
                self.console.print(f"unknown key {key!r}. {HELP}", highlight=False, markup=False)

    def _search(self) -> list[Ranked]:
        query = self.ask("search: ").strip()
        if not query:
            return []
        index = self._index_or_build()
        return [Ranked("", i, s.target_code, s.target_display, s.score, s.explanation)
                for i, s in enumerate(index.search(query, top=self.top), 1)]  # type: ignore[attr-defined]

    def _undo(self) -> StoredCode | None:
        if not self.session.decided:
            self.console.print("nothing to undo in this session")
            return None
        last = self.session.uncount()
        with self.engine.begin() as conn:
            d.undo(conn, self.project, last, self.reviewer)
            local_code_id = d.code_of_decision(conn, last)
            code = next(c for c in all_codes(conn, self.project) if c.local_code_id == local_code_id)
        self.session.skipped.discard(code.local_code_id)
        self.console.print(f"[yellow]undone[/] decision {last} on {code.code}")
        return code
