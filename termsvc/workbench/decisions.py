"""The decision log. Every action appends a row with the previous and new state; the current state of a local
code is its latest row. Nothing is updated or deleted: an undo is a new row restoring the earlier state.

A local code may map to several targets (a ConceptMap element with several targets, each with its own
equivalence): the latest ordinary row holds the first approved target, and rows with action `also` after it
add further approved targets. Any later ordinary decision (approve, reject, flag, revalidate, undo, import)
starts a new state, so the additional targets of the earlier one no longer apply; an undo restores them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Invalid
from termsvc.workbench.projects import Project, check_reviewer, now

PENDING, APPROVED, REJECTED, FLAGGED = "pending", "approved", "rejected", "flagged"
ALSO = "also"  # the action of an additional approved target
STATES = (PENDING, APPROVED, REJECTED, FLAGGED)
# FHIR R4 ConceptMapEquivalence
EQUIVALENCES = ("relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes", "inexact",
                "unmatched", "disjoint")


@dataclass(frozen=True)
class State:
    state: str = PENDING
    target_code: str | None = None
    target_display: str | None = None
    equivalence: str | None = None
    comment: str | None = None
    decision_id: int | None = None


@dataclass(frozen=True)
class Decision:
    decision_id: int
    local_code_id: int
    reviewer: str
    decided_at: datetime
    action: str
    previous_state: str
    new_state: str
    target_code: str | None
    target_display: str | None
    equivalence: str | None
    comment: str | None


_COLUMNS = ("decision_id, local_code_id, reviewer, decided_at, action, previous_state, new_state, target_code, "
            "target_display, equivalence, comment")


def _decision(row: object) -> Decision:
    r = list(row)  # type: ignore[call-overload]
    return Decision(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])


# the latest ordinary (not `also`) decision of each code of a project
_LATEST = ("SELECT local_code_id, MAX(decision_id) AS last FROM decision WHERE project_id = :p AND action <> 'also' "
           "GROUP BY local_code_id")
_STATE_COLUMNS = "new_state, target_code, target_display, equivalence, comment, decision_id"


def _state(r: Any) -> State:
    return State(r[0], r[1], r[2], r[3], r[4], int(r[5]))


def current_states(conn: Connection, project: Project) -> dict[int, State]:
    """local_code_id -> its latest decision (codes never decided on are absent: pending)."""
    rows = conn.execute(text(
        f"SELECT d.local_code_id, {', '.join('d.' + c for c in _STATE_COLUMNS.split(', '))} FROM decision d "
        f"JOIN ({_LATEST}) m ON m.last = d.decision_id"), {"p": project.project_id})
    return {int(r[0]): _state(r[1:]) for r in rows}


def additional_targets(conn: Connection, project: Project) -> dict[int, list[State]]:
    """local_code_id -> the approved targets added after its current decision, in the order added."""
    rows = conn.execute(text(
        f"SELECT d.local_code_id, {', '.join('d.' + c for c in _STATE_COLUMNS.split(', '))} FROM decision d "
        f"JOIN ({_LATEST}) m ON m.local_code_id = d.local_code_id AND d.decision_id > m.last "
        "WHERE d.action = 'also' ORDER BY d.decision_id"), {"p": project.project_id})
    found: dict[int, list[State]] = {}
    for r in rows:
        found.setdefault(int(r[0]), []).append(_state(r[1:]))
    return found


def current_state(conn: Connection, local_code_id: int) -> State:
    return state_at(conn, local_code_id)[0]


def state_at(conn: Connection, local_code_id: int, before: int | None = None) -> tuple[State, list[State]]:
    """A code's decision and its additional targets, now or just before decision `before`."""
    limit = "" if before is None else " AND decision_id < :before"
    params = {"id": local_code_id, "before": before}
    row = conn.execute(text(f"SELECT {_STATE_COLUMNS} FROM decision WHERE local_code_id = :id AND action <> 'also'"
                            f"{limit} ORDER BY decision_id DESC LIMIT 1"), params).first()
    if row is None:
        return State(), []
    extras = conn.execute(text(f"SELECT {_STATE_COLUMNS} FROM decision WHERE local_code_id = :id AND action = "
                               f"'also' AND decision_id > :last{limit} ORDER BY decision_id"),
                          {**params, "last": int(row[5])})
    return _state(row), [_state(r) for r in extras]


def history(conn: Connection, local_code_id: int) -> list[Decision]:
    return [_decision(r) for r in conn.execute(text(
        f"SELECT {_COLUMNS} FROM decision WHERE local_code_id = :id ORDER BY decision_id"), {"id": local_code_id})]


def record(conn: Connection, project: Project, local_code_id: int, reviewer: str, action: str, new: State,
           also: Sequence[State] = ()) -> int:
    """Append one decision, then one `also` row per additional target; returns the decision's id."""
    decided = _append(conn, project, local_code_id, reviewer, action, new)
    for extra in also:
        _append(conn, project, local_code_id, reviewer, ALSO, extra)
    return decided


def _append(conn: Connection, project: Project, local_code_id: int, reviewer: str, action: str, new: State) -> int:
    check_reviewer(project, reviewer)
    if new.state not in STATES:
        raise Invalid(f"unknown state {new.state!r}; one of {', '.join(STATES)}")
    if new.equivalence is not None and new.equivalence not in EQUIVALENCES:
        raise Invalid(f"equivalence {new.equivalence!r} is not an R4 ConceptMapEquivalence code; one of "
                      f"{', '.join(EQUIVALENCES)}", expression=["equivalence"])
    previous = current_state(conn, local_code_id)
    return int(conn.execute(text(
        "INSERT INTO decision (project_id, local_code_id, reviewer, decided_at, action, previous_state, new_state, "
        "target_code, target_display, equivalence, comment) VALUES (:p, :lc, :r, :at, :a, :prev, :new, :tc, :td, "
        ":eq, :c) RETURNING decision_id"),
        {"p": project.project_id, "lc": local_code_id, "r": reviewer, "at": now(), "a": action,
         "prev": previous.state, "new": new.state, "tc": new.target_code, "td": new.target_display,
         "eq": new.equivalence, "c": new.comment}).scalar_one())


def code_of_decision(conn: Connection, decision_id: int) -> int:
    """The local code a decision is about."""
    row = conn.execute(text("SELECT local_code_id FROM decision WHERE decision_id = :d"), {"d": decision_id}).first()
    if row is None:
        raise Invalid(f"no decision {decision_id}")
    return int(row[0])


def state_before(conn: Connection, decision_id: int) -> State:
    """The state a code was in just before the given decision (pending if it was the first)."""
    return state_at(conn, code_of_decision(conn, decision_id), decision_id)[0]


def add_target(conn: Connection, project: Project, local_code_id: int, reviewer: str, target: State) -> int:
    """One more approved target for a code whose current decision is an approval."""
    current = current_state(conn, local_code_id)
    if current.state != APPROVED or not current.target_code:
        raise Invalid(f"an additional target needs an approved first target (the code is {current.state})",
                      expression=["target"])
    return _append(conn, project, local_code_id, reviewer, ALSO,
                  State(APPROVED, target.target_code, target.target_display, target.equivalence, target.comment))


def undo(conn: Connection, project: Project, decision_id: int, reviewer: str) -> int:
    """New decisions restoring the state before `decision_id` with its additional targets; the undone row
    stays in the log. Returns the id of the restoring decision."""
    row = conn.execute(text("SELECT local_code_id FROM decision WHERE decision_id = :d AND project_id = :p"),
                       {"d": decision_id, "p": project.project_id}).first()
    if row is None:
        raise Invalid(f"decision {decision_id} is not in project {project.name!r}")
    before, extras = state_at(conn, int(row[0]), decision_id)
    restored = State(before.state, before.target_code, before.target_display, before.equivalence,
                     f"undo of decision {decision_id}")
    return record(conn, project, int(row[0]), reviewer, "undo", restored, extras)
