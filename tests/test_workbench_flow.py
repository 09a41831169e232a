"""The newcomer's path through `termsvc workbench`, on SQLite and PostgreSQL: import the HL7 v2 samples, rank
suggestions, review with keys, publish, and see ConceptMap/$translate answer with the approved mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from termsvc.api.app import create_app
from termsvc.cli.main import app
from termsvc.settings import Settings
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import code_by_value
from termsvc.workbench.projects import get_project
from tests.conftest import SAMPLES, shared_path

LOCAL = "http://hospital.example.org/lab"
MSH = "MSH|^~\\&|LIS|LAB|EHR|HOSP|20240101120000||ORU^R01^ORU_R01|{n}|P|2.5.1"
# potassium in blood, dual-coded, and a local-only sodium: three messages
ORU = "".join("\r".join([
    MSH.format(n=n), "PID|1||123^^^HOSP^MR||DOE^JANE", "OBR|1|||LYTES^Electrolytes^L",
    "OBX|1|NM|6298-4^Potassium Bld-sCnc^LN^KWB^POTASSIUM WHOLE BLOOD^L||4.1|mmol/L|3.5-5.1|N|||F",
    "OBX|2|NM|NAWB^SODIUM WHOLE BLOOD^L||140|mmol/L|||||F", "SPM|1|||BLD^Whole blood^HL70487"]) + "\r"
    for n in range(3))

Cli = Callable[..., Result]


@pytest.fixture
def cli(engine: Engine, store_url: str) -> Cli:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, ok: bool = True) -> Result:
        result = runner.invoke(app, ["--db", store_url, *args], input=input, env={"USER": "ann"})
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result
    invoke("load", "loinc", str(SAMPLES / "loinc"), "--version", "2.79", "-q")
    invoke("workbench", "project", "lab", "--local-system", LOCAL, "--target-system", "http://loinc.org")
    return invoke


def _translate(engine: Engine, store_url: str, code: str) -> list[tuple[str, str]]:
    with TestClient(create_app(Settings(database_url=store_url), engine=engine)) as client:
        body: dict[str, Any] = client.get("/fhir/ConceptMap/$translate",
                                          params={"system": LOCAL, "code": code}).json()
    found = []
    for p in body["parameter"]:
        if p["name"] == "match":
            parts = {part["name"]: part for part in p["part"]}
            found.append((parts["concept"]["valueCoding"]["code"], parts["equivalence"]["valueCode"]))
    return found


def _state(engine: Engine, code: str) -> d.State:
    with engine.connect() as conn:
        stored = code_by_value(conn, get_project(conn, "lab"), code)
        assert stored is not None
        return d.current_state(conn, stored.local_code_id)


def test_newcomer_imports_hl7_reviews_publishes_and_translate_answers(
        cli: Cli, engine: Engine, store_url: str, tmp_path: Path) -> None:
    own = tmp_path / "oru.hl7"
    own.write_bytes(ORU.encode("ascii"))
    cli("workbench", "import", "lab", str(shared_path("data", "hl7v2")))
    cli("workbench", "import", "lab", str(own))
    out = tmp_path / "suggestions.json"
    cli("workbench", "suggest", "lab", "--top", "5", "--output", str(out))
    ranked = json.loads(out.read_text(encoding="utf-8"))
    assert {"local_code", "rank", "target_code", "display", "score"} <= set(ranked[0])
    first_pending = "VERGPCOM"  # the most frequent local code of the samples (80 results)
    top = next(r for r in ranked if r["local_code"] == first_pending and r["rank"] == 1)
    cli("workbench", "review", "lab", input="a\nq\n")
    cli("workbench", "approve", "lab", "KWB", "6298-4")
    published = cli("workbench", "publish", "lab")
    assert "ConceptMap/lab|1" in published.output
    assert _translate(engine, store_url, "KWB") == [("6298-4", "equivalent")]
    assert _translate(engine, store_url, first_pending) == [(top["target_code"], "equivalent")]


def test_review_keys_pick_reject_flag_skip_undo_and_equivalence(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("code,display,units,specimen,n\nK,POTASSIUM WHOLE BLOOD,mmol/L,Blood,50\n"
                     "KCSF,POTASSIUM CSF,mmol/L,CSF,40\nXX,IN-HOUSE SCORE,,,30\nABS,ABSCESS CULTURE,,Abscess,20\n"
                     "Z,ZINC,ug/dL,Serum,10\n", encoding="utf-8")
    cli("workbench", "import", "lab", str(codes), "--units-column", "units", "--specimen-column", "specimen",
        "--count-column", "n")
    cli("workbench", "suggest", "lab", "--top", "5")
    # K: search, equivalence narrower, pick 1; KCSF: pick 2 then undo (back to KCSF), flag; XX: reject;
    # ABS: skip; Z: quit
    keys = ["/", "potassium blood", "e", "narrower", "1", "2", "u", "f", "units differ", "r", "", "s", "q"]
    result = cli("workbench", "review", "lab", input="\n".join(keys) + "\n")
    assert "undone" in result.output
    k = _state(engine, "K")
    assert k.state == "approved" and k.equivalence == "narrower" and k.target_code
    kcsf = _state(engine, "KCSF")
    assert kcsf.state == "flagged" and kcsf.comment == "units differ"
    assert _state(engine, "XX").state == "rejected"
    assert _state(engine, "ABS").state == "pending" and _state(engine, "Z").state == "pending"
    history = cli("workbench", "history", "lab", "KCSF").output
    for action in ("approve", "undo", "flag"):
        assert action in history


def test_cli_refuses_an_inactive_target_with_a_clear_message(cli: Cli, tmp_path: Path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("code,display\nTEMA,TEMAZEPAM\n", encoding="utf-8")
    cli("workbench", "import", "lab", str(codes))
    result = cli("workbench", "approve", "lab", "TEMA", "10550-2", ok=False)
    assert result.exit_code == 1
    assert "10550-2" in result.output and "inactive" in result.output


def test_cli_import_error_names_file_line_and_field(cli: Cli, tmp_path: Path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("code,display\nK,POTASSIUM\nK,POTASSIUM AGAIN\n", encoding="utf-8")
    result = cli("workbench", "import", "lab", str(codes), ok=False)
    assert result.exit_code == 1
    assert f"{codes}, line 3, field code: duplicate local code 'K'" in result.output
    assert "nothing was changed" in result.output


def test_cli_add_counts_accumulates_periods_and_a_plain_reimport_replaces(cli: Cli, engine: Engine,
                                                                           tmp_path: Path) -> None:
    january, february = tmp_path / "january.csv", tmp_path / "february.csv"
    january.write_text("code,display,n\nK,POTASSIUM,10\n", encoding="utf-8")
    february.write_text("code,display,n\nK,POTASSIUM,25\n", encoding="utf-8")
    cli("workbench", "import", "lab", str(january), "--count-column", "n")
    cli("workbench", "import", "lab", str(february), "--count-column", "n", "--add-counts")
    with engine.connect() as conn:
        assert (code_by_value(conn, get_project(conn, "lab"), "K") or pytest.fail("K")).count == 35
    cli("workbench", "import", "lab", str(february), "--count-column", "n")
    with engine.connect() as conn:
        assert (code_by_value(conn, get_project(conn, "lab"), "K") or pytest.fail("K")).count == 25


def test_cli_approve_also_publishes_a_second_target(cli: Cli, engine: Engine, store_url: str,
                                                    tmp_path: Path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("code,display\nK,POTASSIUM\n", encoding="utf-8")
    cli("workbench", "import", "lab", str(codes))
    cli("workbench", "approve", "lab", "K", "6298-4")
    cli("workbench", "approve", "lab", "K", "2819-1", "--also", "--equivalence", "narrower", "--comment", "CSF")
    cli("workbench", "publish", "lab")
    assert sorted(_translate(engine, store_url, "K")) == [("2819-1", "narrower"), ("6298-4", "equivalent")]


def test_a_senders_dual_coding_is_evidence_for_its_local_code(cli: Cli, tmp_path: Path) -> None:
    own = tmp_path / "oru.hl7"
    own.write_bytes(ORU.encode("ascii"))
    cli("workbench", "import", "lab", str(own))
    out = tmp_path / "suggestions.json"
    cli("workbench", "suggest", "lab", "--top", "3", "--output", str(out))
    kwb = [r for r in json.loads(out.read_text(encoding="utf-8")) if r["local_code"] == "KWB"]
    assert kwb[0]["target_code"] == "6298-4"
    assert "mapped elsewhere (1.00)" in kwb[0]["explanation"]
