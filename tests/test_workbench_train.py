"""`workbench train`: the ranking model refitted on a project's own approvals (SQLite and PostgreSQL, the LOINC
sample loaded) is kept only when it ranks held-out approvals at least as well as the shipped model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from termsvc.errors import Invalid
from termsvc.ops.loading import run_load
from termsvc.workbench.suggest.learned import RankModel
from termsvc.workbench.training import train_project
from tests.workbench_support import project_with_codes

SAMPLE = Path(__file__).resolve().parents[1] / "data-samples" / "loinc"


def _terms() -> list[tuple[str, str]]:
    with (SAMPLE / "LoincTable/Loinc.csv").open(encoding="utf-8-sig", newline="") as handle:
        return [(r["LOINC_NUM"], r["SHORTNAME"]) for r in csv.DictReader(handle) if r["STATUS"] == "ACTIVE"]


def _site(engine: Engine, tmp_path: Path, copies: int) -> None:
    """A site that names each active sample term its own way (its short name, then variants), all approved."""
    run_load(engine, "loinc", SAMPLE, version="2.80")
    rows, approved = ["code,display"], {}
    for n, (code, short) in enumerate(_terms()):
        for copy in range(copies):
            local = f"L{n}-{copy}"
            name = [short, short.upper() + " RESULT", f"{short} (lab {copy})"][copy % 3]
            rows.append(f'{local},"{name}"')
            approved[local] = code
    with engine.begin() as conn:
        project_with_codes(conn, tmp_path, "\n".join(rows) + "\n", approved=approved)


def test_training_needs_enough_approvals(engine: Engine, tmp_path: Path) -> None:
    _site(engine, tmp_path, copies=1)
    with engine.begin() as conn:
        from termsvc.workbench.projects import get_project

        with pytest.raises(Invalid, match="training needs at least"):
            train_project(conn, get_project(conn, "lab"))


def test_site_model_is_kept_only_when_it_does_as_well_on_held_out_approvals(engine: Engine, tmp_path: Path) -> None:
    _site(engine, tmp_path, copies=3)
    with engine.begin() as conn:
        from termsvc.workbench.projects import get_project

        result = train_project(conn, get_project(conn, "lab"))
    assert result.approvals >= 30 and result.shipped.n == result.site.n > 0
    kept = (result.site.top1, result.site.mrr) >= (result.shipped.top1, result.shipped.mrr)
    assert (result.model is not None) == kept
    if result.model is not None:
        assert isinstance(result.model, RankModel) and result.model.document["meta"]["items"] == result.approvals
