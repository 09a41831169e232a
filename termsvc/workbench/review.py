"""The interactive review loop: the most frequent code still pending, its context and ranked candidates; one
key per action. Each decision is committed as it is made, so quitting (or a crash) loses nothing.

Keys: a or Enter approve the top candidate; 1-9 approve that candidate; / search free text; r reject;
f flag with a comment; e set the equivalence the approval of this code will carry; s skip; u undo the last decision of this
session (a new decision restoring the earlier state); q quit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from termsvc.errors import TermsvcError
from termsvc.workbench import actions
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import StoredCode, all_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.suggesting import Ranked, cached, local_term, open_index

HELP = ("[a/Enter] approve top  [1-9] pick  [/] search  [r] reject  [f] flag  [e] equivalence  [s] skip  "
        "[u] undo  [q] quit")


@dataclass
class Session:
    decided: list[int] = field(default_factory=list)  # decision ids, for undo
    skipped: set[int] = field(default_factory=set)
    approved: int = 0
    rejected: int = 0
    flagged: int = 0


class Reviewer:
    def __init__(self, engine: Engine, project: Project, reviewer: str, console: Console,
                 ask: Callable[[str], str], *, top: int = 9) -> None:
        self.engine, self.project, self.reviewer = engine, project, reviewer
        self.console, self.ask, self.top = console, ask, min(top, 9)
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
        self.console.rule(escape(f"{code.code}: {code.display}  ({remaining} pending)"))
        context = [f"count {code.count}"] + [f"{k} {v}" for k, v in (("units", code.units),
                                             ("specimen", code.specimen), ("category", code.category)) if v]
        context += [f"{k}={v}" for k, v in code.extra.items()]
        self.console.print("  ".join(context), highlight=False, markup=False)
        if state.comment:
            self.console.print(f"[yellow]note:[/] {escape(state.comment)}", highlight=False)
        table = Table(show_header=True, header_style="bold")
        for column in ("#", "code", "display", "score", "why"):
            table.add_column(column)
        for c in candidates:
            table.add_row(str(c.rank), escape(c.target_code), escape(c.display), f"{c.score:.2f}", escape(c.explanation))
        self.console.print(table if candidates else "[dim]no candidates: search with /[/]")
        self.console.print(HELP, highlight=False, markup=False)

    def _pending_count(self) -> int:
        with self.engine.connect() as conn:
            states = d.current_states(conn, self.project)
            return sum(1 for c in all_codes(conn, self.project)
                       if states.get(c.local_code_id, d.State()).state == d.PENDING)

    def _do(self, action: Callable[..., int], *args: object, **kwargs: object) -> bool:
        try:
            with self.engine.begin() as conn:
                self.session.decided.append(action(conn, self.project, *args, **kwargs))
        except TermsvcError as exc:
            self.console.print(f"[bold red]refused:[/] {escape(exc.message)}", highlight=False)
            return False
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
        while True:
            try:
                key = self.ask("> ").strip()
            except EOFError:
                return "quit"
            if key in ("", "a") or (key.isdigit() and 1 <= int(key) <= len(candidates)):
                if not candidates:
                    self.console.print("no candidate to approve: search with / or reject with r")
                    continue
                chosen = candidates[0 if key in ("", "a") else int(key) - 1]
                if self._do(actions.approve, code, chosen.target_code, self.reviewer, equivalence=equivalence):
                    self.session.approved += 1
                    return "next"
            elif key == "/":
                candidates = self._search()
                self._show(code, candidates, self._pending_count())
            elif key == "r":
                if self._do(actions.reject, code, self.reviewer, comment=self.ask("comment (optional): ").strip()
                            or None):
                    self.session.rejected += 1
                    return "next"
            elif key == "f":
                if self._do(actions.flag, code, self.reviewer, self.ask("comment: ").strip()):
                    self.session.flagged += 1
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
        last = self.session.decided.pop()
        with self.engine.begin() as conn:
            d.undo(conn, self.project, last, self.reviewer)
            local_code_id = d.code_of_decision(conn, last)
            code = next(c for c in all_codes(conn, self.project) if c.local_code_id == local_code_id)
        self.session.skipped.discard(code.local_code_id)
        self.console.print(f"[yellow]undone[/] decision {last} on {code.code}")
        return code
