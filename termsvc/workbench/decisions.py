"""The decision log. Every action appends a row with the previous and new state; the current state of a local
code is its latest row. Nothing is updated or deleted: an undo is a new row restoring the earlier state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from termsvc.errors import Invalid
from termsvc.workbench.projects import Project, check_reviewer, now

PENDING, APPROVED, REJECTED, FLAGGED = "pending", "approved", "rejected", "flagged"
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


def current_states(conn: Connection, project: Project) -> dict[int, State]:
    """local_code_id -> its latest decision (codes never decided on are absent: pending)."""
    rows = conn.execute(text(
        "SELECT d.local_code_id, d.new_state, d.target_code, d.target_display, d.equivalence, d.comment, "
        "d.decision_id FROM decision d JOIN (SELECT local_code_id, MAX(decision_id) AS last FROM decision "
        "WHERE project_id = :p GROUP BY local_code_id) m ON m.last = d.decision_id"), {"p": project.project_id})
    return {int(r[0]): State(r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows}


def current_state(conn: Connection, local_code_id: int) -> State:
    row = conn.execute(text("SELECT new_state, target_code, target_display, equivalence, comment, decision_id "
                            "FROM decision WHERE local_code_id = :id ORDER BY decision_id DESC LIMIT 1"),
                       {"id": local_code_id}).first()
    return State(row[0], row[1], row[2], row[3], row[4], int(row[5])) if row is not None else State()


def history(conn: Connection, local_code_id: int) -> list[Decision]:
    return [_decision(r) for r in conn.execute(text(
        f"SELECT {_COLUMNS} FROM decision WHERE local_code_id = :id ORDER BY decision_id"), {"id": local_code_id})]


def record(conn: Connection, project: Project, local_code_id: int, reviewer: str, action: str, new: State) -> int:
    """Append one decision; returns its id."""
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
    earlier = conn.execute(text(
        "SELECT new_state, target_code, target_display, equivalence, comment, decision_id FROM decision "
        "WHERE local_code_id = :lc AND decision_id < :d ORDER BY decision_id DESC LIMIT 1"),
        {"lc": code_of_decision(conn, decision_id), "d": decision_id}).first()
    return State(earlier[0], earlier[1], earlier[2], earlier[3], earlier[4], int(earlier[5])) \
        if earlier is not None else State()


def undo(conn: Connection, project: Project, decision_id: int, reviewer: str) -> int:
    """A new decision restoring the state before `decision_id`; the undone row stays in the log."""
    row = conn.execute(text("SELECT local_code_id FROM decision WHERE decision_id = :d AND project_id = :p"),
                       {"d": decision_id, "p": project.project_id}).first()
    if row is None:
        raise Invalid(f"decision {decision_id} is not in project {project.name!r}")
    before = state_before(conn, decision_id)
    restored = State(before.state, before.target_code, before.target_display, before.equivalence,
                     f"undo of decision {decision_id}")
    return record(conn, project, int(row[0]), reviewer, "undo", restored)
