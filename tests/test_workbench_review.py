"""The review loop as an informaticist uses it, fed keys (SQLite and PostgreSQL, the LOINC sample loaded): LOINC
axes in columns, Enter shows before it approves, unclamped scores, search by synonym and back to the original
suggestions, the item under review on screen at 80 columns, undo taken off the session's totals, single keys read
from a terminal without Enter."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine

from termsvc.ops.loading import run_load
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import code_by_value
from termsvc.workbench.projects import Project
from termsvc.workbench.review import Reviewer, terminal_key
from termsvc.workbench.suggesting import suggest_all

SAMPLE = Path(__file__).resolve().parents[1] / "data-samples" / "loinc"
CODES = "code,display,units,specimen,n\nK,POTASSIUM WHOLE BLOOD,mmol/L,Blood,50\nKCSF,POTASSIUM CSF,mmol/L,CSF,40\n"


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    run_load(engine, "loinc", SAMPLE, version="2.80")
    with engine.begin() as conn:
        path = tmp_path / "codes.csv"
        path.write_text(CODES, encoding="utf-8")
        from termsvc.workbench.import_table import Columns
        from termsvc.workbench.importing import import_codes
        from termsvc.workbench.projects import create_project

        made = create_project(conn, "lab", "http://hospital.example.org/lab", "http://loinc.org")
        import_codes(conn, made, path, columns=Columns(units="units", specimen="specimen", count="n"))
        suggest_all(conn, made, top=9)
    return made


def _run(engine: Engine, project: Project, keys: list[str]) -> tuple[str, Reviewer]:
    fed: Iterator[str] = iter(keys)

    def ask(prompt: str) -> str:
        try:
            return next(fed)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    loop = Reviewer(engine, project, "ann", Console(file=out, width=80, color_system=None), ask)
    loop.run()
    return out.getvalue(), loop


def _state(engine: Engine, project: Project, code: str) -> d.State:
    with engine.connect() as conn:
        stored = code_by_value(conn, project, code)
        assert stored is not None
        return d.current_state(conn, stored.local_code_id)


def test_candidates_show_their_loinc_axes_in_columns(engine: Engine, project: Project) -> None:
    screen, _ = _run(engine, project, ["q"])
    header = next(line for line in screen.splitlines() if "component" in line)
    for column in ("property", "system", "scale", "method", "score"):
        assert column in header
    assert "SCnc" in screen and "Bld" in screen  # the loaded release's axes, not only the name


def test_enter_shows_what_it_would_approve_and_a_second_enter_approves(engine: Engine, project: Project) -> None:
    screen, _ = _run(engine, project, ["", "q"])
    assert "Enter again (or a) approves 1:" in screen
    assert _state(engine, project, "K").state == d.PENDING
    screen, loop = _run(engine, project, ["", "", "q"])
    assert _state(engine, project, "K").state == d.APPROVED and loop.session.approved == 1
    assert "approved K ->" in screen


def test_scores_are_shown_unclamped(engine: Engine, project: Project) -> None:
    screen, _ = _run(engine, project, ["q"])
    scores = [line.split()[-1] for line in screen.splitlines() if line[:1].isdigit() or line[1:2].isdigit()]
    assert scores and "1.000" not in scores


def test_item_under_review_is_repeated_under_the_table_within_80_columns(engine: Engine, project: Project) -> None:
    screen, _ = _run(engine, project, ["q"])
    lines = screen.splitlines()
    item = next(i for i, line in enumerate(lines) if line.startswith(">> K: POTASSIUM WHOLE BLOOD"))
    assert item > next(i for i, line in enumerate(lines) if "component" in line)
    assert all(len(line) <= 80 for line in lines)


def test_search_matches_synonyms_and_o_returns_to_the_original_suggestions(engine: Engine,
                                                                          project: Project) -> None:
    screen, _ = _run(engine, project, ["/", "neurology", "o", "q"])
    shown = screen.split(">> K:")
    # Potassium in CSF: "Neurology" is only among its synonyms (RELATEDNAMES2), never in a name
    assert "2819-1" in shown[1]
    assert shown[2].count("SCnc") >= 3  # the original potassium suggestions shown again


def test_undo_is_taken_off_the_session_totals(engine: Engine, project: Project) -> None:
    _, loop = _run(engine, project, ["a", "u", "q"])
    assert loop.session.approved == 0
    assert _state(engine, project, "K").state == d.PENDING


def test_a_single_key_is_read_from_a_terminal_without_enter() -> None:
    leader, follower = os.openpty()
    try:
        os.write(leader, b"a")
        with os.fdopen(os.dup(follower), "r") as stream:
            assert terminal_key("> ", stream=stream, out=io.StringIO()) == "a"
        os.write(leader, b"\r")
        with os.fdopen(os.dup(follower), "r") as stream:
            assert terminal_key("> ", stream=stream, out=io.StringIO()) == ""
    finally:
        os.close(leader)
        os.close(follower)
