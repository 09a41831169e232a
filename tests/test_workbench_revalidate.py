"""After a new target release, approvals whose target became inactive or was renamed go back into review with
the release's own replacement proposed first (LOINC MAP_TO here), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from termsvc.ops.loading import run_load
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import code_by_value
from termsvc.workbench.projects import Project, get_project
from termsvc.workbench.revalidate import revalidate
from termsvc.workbench.suggesting import cached
from tests.conftest import SAMPLES
from tests.workbench_support import project_with_codes


def _next_release(tmp_path: Path) -> Path:
    """The sample release, one version on: 6298-4 deprecated with a MapTo.csv replacement, 2819-1 renamed."""
    release = tmp_path / "loinc-next"
    shutil.copytree(SAMPLES / "loinc", release)
    table = release / "LoincTable" / "Loinc.csv"
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    code, status, name = header.index("LOINC_NUM"), header.index("STATUS"), header.index("LONG_COMMON_NAME")
    for row in rows[1:]:
        if row[code] == "6298-4":
            row[status] = "DEPRECATED"
        if row[code] == "2819-1":
            row[name] = "Potassium [Moles/volume] in Cerebral spinal fluid (CSF)"
    with table.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    (release / "LoincTable" / "MapTo.csv").write_text(
        '"LOINC","MAP_TO","COMMENT"\r\n"6298-4","75940-7","merged for the test"\r\n', encoding="utf-8")
    return release


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Project:
    run_load(engine, "loinc", SAMPLES / "loinc", version="2.79")
    with engine.begin() as conn:
        p = project_with_codes(conn, tmp_path, "code,display\nK,POTASSIUM BLOOD\nKCSF,POTASSIUM CSF\n"
                               "ABS,ABSCESS CULTURE\n", approved={"K": "6298-4", "KCSF": "2819-1", "ABS": "595-9"})
    run_load(engine, "loinc", _next_release(tmp_path), version="2.80")
    return p


def test_inactive_and_renamed_targets_go_back_into_review(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        reopened = {r.local_code: r for r in revalidate(conn, project, "ann")}
        states = {c: d.current_state(conn, code_by_value(conn, project, c).local_code_id)  # type: ignore[union-attr]
                  for c in ("K", "KCSF", "ABS")}
    assert set(reopened) == {"K", "KCSF"}
    assert "inactive in http://loinc.org|2.80" in reopened["K"].reason
    assert reopened["K"].replacements[0][0] == "75940-7" and "MAP_TO" in reopened["K"].replacements[0][2]
    assert "renamed" in reopened["KCSF"].reason
    assert states["K"].state == "pending" and "75940-7" in (states["K"].comment or "")
    assert states["ABS"].state == "approved"


def test_the_release_replacement_is_the_first_suggestion(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        revalidate(conn, project, "ann")
        k = code_by_value(conn, project, "K")
        assert k is not None
        first = cached(conn, k.local_code_id)[0]
        log = d.history(conn, k.local_code_id)
    assert first.target_code == "75940-7" and "MAP_TO" in first.explanation
    assert [(r.action, r.previous_state, r.new_state) for r in log] == [
        ("approve", "pending", "approved"), ("revalidate", "approved", "pending")]


def test_revalidating_twice_changes_nothing_more(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        revalidate(conn, project, "ann")
        assert revalidate(conn, project, "ann") == []


def test_a_pinned_project_is_checked_against_the_new_release_and_moves_its_pin(engine: Engine,
                                                                                project: Project) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE project SET target_version = '2.79' WHERE project_id = :p"),
                     {"p": project.project_id})
        pinned = get_project(conn, project.name)
        assert {r.local_code for r in revalidate(conn, pinned, "ann")} == {"K", "KCSF"}
        assert get_project(conn, project.name).target_version == "2.80"


def test_an_additional_target_gone_inactive_reopens_its_code(engine: Engine, project: Project) -> None:
    with engine.begin() as conn:
        abscess = code_by_value(conn, project, "ABS")
        assert abscess is not None
        # added while 6298-4 was active in 2.79 (the fixture has since loaded 2.80)
        d.add_target(conn, project, abscess.local_code_id, "ann",
                     d.State(d.APPROVED, "6298-4", "Potassium [Moles/volume] in Blood", "wider", "test"))
        reopened = {r.local_code: r for r in revalidate(conn, project, "ann")}
    assert "target 6298-4 is inactive" in reopened["ABS"].reason
    assert [c for c, _, _ in reopened["ABS"].replacements] == ["75940-7"]
