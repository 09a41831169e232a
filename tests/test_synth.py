"""The synthetic releases in bench/: deterministic, in the publishers' layouts, with the generated shape, and
loadable by our loaders on SQLite and PostgreSQL (small scale; the full size is measured by bench/load_bench.py)."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from termsvc.ops.loading import run_load

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import synth_loinc
import synth_rxnorm
import synth_snomed
from synth_common import luhn_digit, sctid, verhoeff_valid

from tests.conftest import shared_path

SNOMED_SCALE = 0.004
SCT = "http://snomed.info/sct"


def _loader_landed(module: str) -> None:
    if importlib.util.find_spec(f"termsvc.loaders.{module}") is None:
        pytest.skip(f"loaders/{module}.py has not landed yet")


def _snomed(out: Path, seed: int = 7, scale: float = SNOMED_SCALE, release: str = "20251101") -> dict[str, int]:
    return synth_snomed.generate(out, seed=seed, active=int(370_000 * scale), inactive=int(150_000 * scale),
                                 descriptions=int(1_600_000 * scale), attributes=int(1_500_000 * scale),
                                 release=release)


def _loinc(out: Path, seed: int = 7) -> dict[str, int]:
    return synth_loinc.generate(out, seed=seed, terms=1200, answer_lists=40, answers=300, extra_parts=100)


def _rxnorm(out: Path, seed: int = 7) -> dict[str, int]:
    return synth_rxnorm.generate(out, seed=seed, conso=6000, rel=30000, sat=8000, scale=0.005)


@pytest.fixture(scope="module")
def snomed_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("snomed")
    _snomed(out)
    return out


@pytest.fixture(scope="module")
def loinc_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loinc")
    _loinc(out)
    return out / "Loinc_2.81"


@pytest.fixture(scope="module")
def rxnorm_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rxnorm")
    _rxnorm(out)
    return next(out.glob("RxNorm_full_*"))


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _rf2(folder: Path, pattern: str) -> list[dict[str, str]]:
    path = next(folder.rglob(pattern))
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\r\n"))


def _rrf(folder: Path, name: str) -> list[list[str]]:
    return [line.split("|") for line in (folder / "rrf" / name).read_text(encoding="utf-8").splitlines()]


# --- check digits -------------------------------------------------------------------------------------------

@given(st.integers(min_value=100, max_value=10**12), st.sampled_from(["00", "01", "02"]))
def test_generated_sctids_pass_the_verhoeff_check(item: int, partition: str) -> None:
    value = sctid(item, partition)
    assert verhoeff_valid(value) and value[-3:-1] == partition


@given(st.integers(min_value=100, max_value=10**12), st.integers(min_value=0, max_value=20),
       st.integers(min_value=1, max_value=9))
def test_verhoeff_rejects_every_single_digit_error(item: int, position: int, delta: int) -> None:
    value = sctid(item, "00")
    i = position % len(value)
    wrong = value[:i] + str((int(value[i]) + delta) % 10) + value[i + 1:]
    assert not verhoeff_valid(wrong)


def test_loinc_check_digits_match_the_genuine_loinc_table() -> None:
    with shared_path("data", "loinc", "fhirsmith-subset", "LoincTable", "Loinc.csv").open(encoding="utf-8") as f:
        codes = [row["LOINC_NUM"] for row in csv.DictReader(f)]
    assert codes and all(luhn_digit(code.split("-")[0]) == code.split("-")[1] for code in codes)


# --- determinism --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("generate", [_snomed, _loinc, _rxnorm], ids=["snomed", "loinc", "rxnorm"])
def test_same_seed_writes_identical_files_and_another_seed_does_not(
        generate: Callable[..., dict[str, int]], tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=1)
    generate(tmp_path / "b", seed=1)
    generate(tmp_path / "c", seed=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


# --- SNOMED CT shape ----------------------------------------------------------------------------------------

def test_snomed_release_has_the_international_folder_layout_with_crlf_lines(snomed_release: Path) -> None:
    root = snomed_release / "SnomedCT_InternationalRF2_PRODUCTION_20251101T120000Z" / "Snapshot"
    concept_file = root / "Terminology" / "sct2_Concept_Snapshot_INT_20251101.txt"
    language_file = root / "Refset" / "Language" / "der2_cRefset_LanguageSnapshot-en_INT_20251101.txt"
    for path in (concept_file, language_file):
        data = path.read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n") > 1
    assert concept_file.read_bytes().startswith(b"id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\r\n")


def test_snomed_headers_match_the_genuine_sample(snomed_release: Path) -> None:
    sample = shared_path("data", "snomed", "snowstorm-lite-MiniRF2", "SnomedCT_MiniRF2", "Snapshot")
    for pattern in ("sct2_Description_Snapshot*", "der2_cRefset_LanguageSnapshot*", "der2_cRefset_Association*",
                    "der2_iisssccRefset_ExtendedMap*"):
        genuine = next(sample.rglob(pattern)).read_text(encoding="utf-8").splitlines()[0]
        ours = next(snomed_release.rglob(pattern)).read_bytes().split(b"\r\n")[0].decode()
        assert ours == genuine, pattern


def test_snomed_ids_are_valid_sctids_of_the_right_partition(snomed_release: Path) -> None:
    for pattern, column, partition in (("sct2_Concept_*", "id", "00"), ("sct2_Description_*", "id", "01"),
                                       ("sct2_Relationship_Snapshot*", "id", "02")):
        for row in _rf2(snomed_release, pattern):
            assert verhoeff_valid(row[column]) and row[column][-3:-1] == partition, row


def test_snomed_is_a_graph_is_acyclic_with_multiple_parents_and_depth_at_most_30(snomed_release: Path) -> None:
    parents: dict[str, list[str]] = defaultdict(list)
    for row in _rf2(snomed_release, "sct2_Relationship_Snapshot*"):
        if row["active"] == "1" and row["typeId"] == synth_snomed.IS_A:
            parents[row["sourceId"]].append(row["destinationId"])
    depth: dict[str, int] = {synth_snomed.ROOT: 0}

    def depth_of(code: str, seen: frozenset[str] = frozenset()) -> int:
        assert code not in seen, f"cycle through {code}"
        if code not in depth:
            depth[code] = 1 + max(depth_of(p, seen | {code}) for p in parents[code])
        return depth[code]

    sys.setrecursionlimit(10_000)
    depths = [depth_of(code) for code in parents]
    assert max(depths) <= 30 and max(depths) >= 10
    assert sum(1 for ps in parents.values() if len(ps) > 1) > len(parents) // 5


def test_snomed_every_refset_row_names_an_existing_component(snomed_release: Path) -> None:
    concepts = {r["id"]: r["active"] for r in _rf2(snomed_release, "sct2_Concept_*")}
    descriptions = {r["id"] for r in _rf2(snomed_release, "sct2_Description_*")}
    descriptions |= {r["id"] for r in _rf2(snomed_release, "sct2_TextDefinition_*")}
    assert all(r["referencedComponentId"] in descriptions for r in _rf2(snomed_release, "der2_cRefset_Language*"))
    for row in _rf2(snomed_release, "sct2_Relationship_Snapshot*"):
        assert {row["sourceId"], row["destinationId"], row["typeId"]} <= concepts.keys()
    for row in _rf2(snomed_release, "der2_cRefset_Association*"):
        assert concepts[row["referencedComponentId"]] == "0" and concepts[row["targetComponentId"]] == "1"


def test_snomed_us_and_gb_preferred_terms_differ_for_dialect_spellings(snomed_release: Path) -> None:
    terms = {r["id"]: r for r in _rf2(snomed_release, "sct2_Description_*")}
    preferred: dict[tuple[str, str], str] = {}
    for row in _rf2(snomed_release, "der2_cRefset_Language*"):
        d = terms.get(row["referencedComponentId"])
        if d and d["typeId"] == synth_snomed.SYN and row["acceptabilityId"] == synth_snomed.PREFERRED:
            preferred[(d["conceptId"], row["refsetId"])] = d["term"]
    differing = [c for (c, refset) in preferred if refset == synth_snomed.US
                 and preferred[(c, synth_snomed.US)] != preferred.get((c, synth_snomed.GB))]
    assert differing


# --- LOINC shape --------------------------------------------------------------------------------------------

def test_loinc_table_has_the_genuine_header_and_quotes_every_field(loinc_release: Path) -> None:
    genuine = shared_path("data", "loinc", "fhirsmith-subset", "LoincTable", "Loinc.csv")
    ours = (loinc_release / "LoincTable" / "Loinc.csv").read_bytes()
    assert ours.split(b"\r\n")[0] == genuine.read_bytes().split(b"\n")[0].rstrip(b"\r")
    rows = list(csv.reader(io.StringIO(ours.decode("utf-8"), newline="")))
    assert all(len(row) == 40 for row in rows)
    assert ours.count(b'",') >= 39 * len(rows) - 1  # every field is quoted, empty ones as ""


def test_loinc_terms_have_check_digits_statuses_and_map_to_targets(loinc_release: Path) -> None:
    with (loinc_release / "LoincTable" / "Loinc.csv").open(encoding="utf-8", newline="") as f:
        terms = {row["LOINC_NUM"]: row for row in csv.DictReader(f)}
    assert all(luhn_digit(code.split("-")[0]) == code.split("-")[1] for code in terms)
    assert {row["STATUS"] for row in terms.values()} == {"ACTIVE", "DEPRECATED", "DISCOURAGED", "TRIAL"}
    with (loinc_release / "LoincTable" / "MapTo.csv").open(encoding="utf-8", newline="") as f:
        maps = list(csv.DictReader(f))
    assert maps and all(terms[m["LOINC"]]["STATUS"] == "DEPRECATED" and terms[m["MAP_TO"]]["STATUS"] == "ACTIVE"
                        for m in maps)


def test_loinc_terms_link_to_five_or_six_primary_parts_that_exist(loinc_release: Path) -> None:
    part_file = loinc_release / "AccessoryFiles" / "PartFile"
    with (part_file / "Part.csv").open(encoding="utf-8", newline="") as f:
        parts = {row["PartNumber"] for row in csv.DictReader(f)}
    links: dict[str, int] = defaultdict(int)
    with (part_file / "LoincPartLink_Primary.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            assert row["PartNumber"] in parts
            links[row["LoincNumber"]] += 1
    assert set(links.values()) <= {5, 6} and len(links) == 1200


# --- RxNorm shape -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fields"), [("RXNCONSO.RRF", 18), ("RXNREL.RRF", 16), ("RXNSAT.RRF", 13),
                                              ("RXNSTY.RRF", 6), ("RXNCUI.RRF", 5), ("RXNCUICHANGES.RRF", 7),
                                              ("RXNSAB.RRF", 25)])
def test_rxnorm_files_have_nlm_column_counts_and_a_trailing_pipe(rxnorm_release: Path, name: str,
                                                                 fields: int) -> None:
    rows = _rrf(rxnorm_release, name)
    assert rows and all(len(row) == fields + 1 and row[-1] == "" for row in rows)


def test_rxnorm_relationships_come_in_inverse_pairs(rxnorm_release: Path) -> None:
    rows = {(r[0], r[7], r[4]) for r in _rrf(rxnorm_release, "RXNREL.RRF") if r[10] == "RXNORM"}
    assert rows and all((b, synth_rxnorm.INVERSE[rela], a) in rows for a, rela, b in rows)


def test_rxnorm_retired_rxcuis_are_absent_from_rxnconso(rxnorm_release: Path) -> None:
    current = {r[0] for r in _rrf(rxnorm_release, "RXNCONSO.RRF")}
    retired = _rrf(rxnorm_release, "RXNCUI.RRF")
    assert retired and all(r[0] not in current and r[4] in current for r in retired)


# --- loading --------------------------------------------------------------------------------------------------

def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_snomed_synthetic_release_loads_with_its_closure(engine: Engine, snomed_release: Path) -> None:
    _loader_landed("snomed_rf2")
    run_load(engine, "snomed", snomed_release)
    concepts = _rf2(snomed_release, "sct2_Concept_*")
    assert _scalar(engine, "SELECT COUNT(*) FROM concept") == len(concepts)
    children: dict[str, list[str]] = defaultdict(list)
    for row in _rf2(snomed_release, "sct2_Relationship_Snapshot*"):
        if row["active"] == "1" and row["typeId"] == synth_snomed.IS_A:
            children[row["destinationId"]].append(row["sourceId"])
    descendants: dict[str, set[str]] = {}

    def below(code: str) -> set[str]:
        if code not in descendants:
            found = {code}
            for child in children[code]:
                found |= below(child)
            descendants[code] = found
        return descendants[code]

    expected = sum(len(below(c["id"])) for c in concepts)
    assert _scalar(engine, "SELECT COUNT(*) FROM closure") == expected


def test_snomed_synthetic_display_is_the_us_preferred_term(engine: Engine, snomed_release: Path) -> None:
    _loader_landed("snomed_rf2")
    run_load(engine, "snomed", snomed_release)
    terms = {r["id"]: r for r in _rf2(snomed_release, "sct2_Description_*")}
    for row in _rf2(snomed_release, "der2_cRefset_Language*"):
        d = terms.get(row["referencedComponentId"], {})  # text definitions are in another file
        if d and (row["refsetId"] == synth_snomed.US and row["acceptabilityId"] == synth_snomed.PREFERRED
                and d["typeId"] == synth_snomed.SYN and d["term"].endswith(" color")):
            break
    else:
        pytest.fail("no US-spelt preferred term in the release")
    display = _scalar(engine, "SELECT display FROM concept WHERE code = :code", code=d["conceptId"])
    assert display == d["term"]


def test_loinc_synthetic_release_loads_every_term(engine: Engine, loinc_release: Path) -> None:
    _loader_landed("loinc")
    run_load(engine, "loinc", loinc_release)
    with (loinc_release / "LoincTable" / "Loinc.csv").open(encoding="utf-8", newline="") as f:
        terms = {row["LOINC_NUM"]: row["STATUS"] for row in csv.DictReader(f)}
    with engine.connect() as conn:
        stored: dict[str, Any] = dict(conn.execute(text("SELECT c.code, c.active FROM concept c JOIN code_system s "
                                        "ON s.code_system_id = c.code_system_id WHERE s.url = 'http://loinc.org' "
                                        "AND c.code NOT LIKE 'L%'")).all())
    assert stored.keys() == terms.keys()
    assert all(bool(stored[code]) == (status != "DEPRECATED") for code, status in terms.items())


def test_rxnorm_synthetic_release_loads_every_rxnorm_concept(engine: Engine, rxnorm_release: Path) -> None:
    _loader_landed("rxnorm_rrf")
    run_load(engine, "rxnorm", rxnorm_release)
    rxcuis = {r[0] for r in _rrf(rxnorm_release, "RXNCONSO.RRF") if r[11] == "RXNORM"}
    retired = {r[0] for r in _rrf(rxnorm_release, "RXNCUI.RRF")}
    assert _scalar(engine, "SELECT COUNT(*) FROM concept") == len(rxcuis | retired)
    assert _scalar(engine, "SELECT COUNT(*) FROM concept WHERE active = :t", t=True) == len(
        {r[0] for r in _rrf(rxnorm_release, "RXNCONSO.RRF") if r[11] == "RXNORM" and r[16] != "O"})
