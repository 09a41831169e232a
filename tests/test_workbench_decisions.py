"""Decisions on local codes, on SQLite and PostgreSQL: approvals checked against the target version, an
append-only log with previous and new state, undo as a new decision, coverage per state and reviewer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from termsvc.errors import Invalid
from termsvc.ops.loading import run_load
from termsvc.workbench import actions
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import StoredCode, code_by_value
from termsvc.workbench.projects import Project
from termsvc.workbench.status import coverage
from tests.conftest import SAMPLES
from tests.workbench_support import project_with_codes


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    run_load(engine, "loinc", SAMPLES / "loinc", version="2.79")
    with engine.begin() as conn:
        return project_with_codes(conn, tmp_path, "code,display,n\nK,POTASSIUM BLOOD,100\nKCSF,POTASSIUM CSF,10\n"
                                  "XX,ODD TEST,1\n", count="n", reviewers=("ann", "bob"))


def _code(engine: Engine, project: Project, code: str) -> StoredCode:
    with engine.connect() as conn:
        found = code_by_value(conn, project, code)
    assert found is not None
    return found


def test_approval_of_an_unknown_target_is_refused(engine: Engine, project: Project) -> None:
    with pytest.raises(Invalid, match=r"'1-1' does not exist in http://loinc\.org\|2\.79"), engine.begin() as conn:
        actions.approve(conn, project, _code(engine, project, "K"), "1-1", "ann")


def test_approval_of_an_inactive_target_is_refused(engine: Engine, project: Project) -> None:
    # 10550-2 is DEPRECATED in the sample release
    with pytest.raises(Invalid, match="inactive"), engine.begin() as conn:
        actions.approve(conn, project, _code(engine, project, "K"), "10550-2", "ann")


def test_approval_takes_the_target_display_from_the_release(engine: Engine, project: Project) -> None:
    k = _code(engine, project, "K")
    with engine.begin() as conn:
        actions.approve(conn, project, k, "6298-4", "ann")
        state = d.current_state(conn, k.local_code_id)
    assert (state.state, state.target_code, state.target_display, state.equivalence) == \
        ("approved", "6298-4", "Potassium [Moles/volume] in Blood", "equivalent")


def test_someone_not_a_reviewer_cannot_decide(engine: Engine, project: Project) -> None:
    with pytest.raises(Invalid, match="not a reviewer"), engine.begin() as conn:
        actions.reject(conn, project, _code(engine, project, "XX"), "mallory")


def test_equivalence_must_be_an_r4_code(engine: Engine, project: Project) -> None:
    with pytest.raises(Invalid, match="not an R4"), engine.begin() as conn:
        actions.approve(conn, project, _code(engine, project, "K"), "6298-4", "ann", equivalence="broader")


def test_a_flag_needs_a_comment(engine: Engine, project: Project) -> None:
    with pytest.raises(Invalid, match="comment"), engine.begin() as conn:
        actions.flag(conn, project, _code(engine, project, "K"), "ann", "  ")


def test_history_keeps_every_decision_with_previous_and_new_state(engine: Engine, project: Project) -> None:
    k = _code(engine, project, "K")
    with engine.begin() as conn:
        actions.approve(conn, project, k, "75940-7", "ann")
        actions.flag(conn, project, k, "bob", "units say moles, not mass")
        actions.approve(conn, project, k, "6298-4", "bob", comment="moles per volume")
        log = d.history(conn, k.local_code_id)
    assert [(r.reviewer, r.action, r.previous_state, r.new_state, r.target_code) for r in log] == [
        ("ann", "approve", "pending", "approved", "75940-7"),
        ("bob", "flag", "approved", "flagged", "75940-7"),
        ("bob", "approve", "flagged", "approved", "6298-4"),
    ]
    assert log[1].comment == "units say moles, not mass"


def test_undo_is_a_new_decision_restoring_the_earlier_state(engine: Engine, project: Project) -> None:
    k = _code(engine, project, "K")
    with engine.begin() as conn:
        first = actions.approve(conn, project, k, "6298-4", "ann")
        second = actions.reject(conn, project, k, "ann", comment="wrong specimen?")
        d.undo(conn, project, second, "ann")
        state = d.current_state(conn, k.local_code_id)
        log = d.history(conn, k.local_code_id)
        d.undo(conn, project, first, "ann")
        back_to_pending = d.current_state(conn, k.local_code_id)
        rows = conn.execute(text("SELECT COUNT(*) FROM decision")).scalar_one()
    assert (state.state, state.target_code) == ("approved", "6298-4")
    assert [r.action for r in log] == ["approve", "reject", "undo"]
    assert back_to_pending.state == "pending" and back_to_pending.target_code is None
    assert rows == 4  # nothing deleted


def test_coverage_counts_codes_and_volume_per_state_and_reviewer(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        actions.approve(conn, project, _code(engine, project, "K"), "6298-4", "ann")
        actions.flag(conn, project, _code(engine, project, "KCSF"), "bob", "check units")
        cov = coverage(conn, project)
    assert (cov.total.codes, cov.total.volume) == (3, 111)
    assert (cov.by_state["approved"].codes, cov.by_state["approved"].volume) == (1, 100)
    assert (cov.by_state["flagged"].codes, cov.by_state["pending"].volume) == (1, 1)
    assert cov.share("approved") == pytest.approx(1 / 3)
    assert cov.share("approved", weighted=True) == pytest.approx(100 / 111)
    assert cov.by_reviewer["ann"]["approved"].codes == 1 and cov.by_reviewer["bob"]["flagged"].volume == 10
