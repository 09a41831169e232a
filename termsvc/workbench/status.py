"""Coverage of a project: codes and frequency-weighted volume in each state, overall and per reviewer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import all_codes
from termsvc.workbench.projects import Project


@dataclass
class Tally:
    codes: int = 0
    volume: int = 0

    def add(self, count: int) -> None:
        self.codes += 1
        self.volume += count


@dataclass
class Coverage:
    total: Tally = field(default_factory=Tally)
    by_state: dict[str, Tally] = field(default_factory=lambda: {s: Tally() for s in d.STATES})
    # reviewer -> state -> tally, by the reviewer of each code's current decision
    by_reviewer: dict[str, dict[str, Tally]] = field(default_factory=dict)

    def share(self, state: str, *, weighted: bool = False) -> float:
        whole = self.total.volume if weighted else self.total.codes
        part = self.by_state[state].volume if weighted else self.by_state[state].codes
        return part / whole if whole else 0.0


def coverage(conn: Connection, project: Project) -> Coverage:
    states = d.current_states(conn, project)
    reviewer_of: dict[int, str] = dict(conn.execute(text("SELECT decision_id, reviewer FROM decision WHERE project_id = :p"),
                                    {"p": project.project_id}).all())
    result = Coverage()
    per_reviewer: dict[str, dict[str, Tally]] = defaultdict(lambda: {s: Tally() for s in d.STATES})
    for code in all_codes(conn, project):
        state = states.get(code.local_code_id, d.State())
        result.total.add(code.count)
        result.by_state[state.state].add(code.count)
        if state.decision_id is not None:
            per_reviewer[reviewer_of[state.decision_id]][state.state].add(code.count)
    result.by_reviewer = dict(per_reviewer)
    return result
