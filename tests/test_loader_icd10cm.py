"""The ICD-10-CM loader: the tabular XML (sample and full 2026 release) and the CMS order file, on SQLite and
PostgreSQL; bad input names file and line and leaves the store unchanged."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from termsvc.cli.main import app
from termsvc.errors import LoadError
from termsvc.loaders.base import NullProgress
from termsvc.loaders.icd10cm_codes import (
    SYSTEM,
    dotted,
    is_code,
    parse_seventh_exception,
    undotted,
    with_seventh,
)
from termsvc.loaders.icd10cm_order import OrderRow, parse_line, read_order_file
from termsvc.ops.loading import run_load
from termsvc.ops.lookup import lookup
from termsvc.store.engine import make_engine
from tests.conftest import ENGINES, SAMPLES, shared_path

SAMPLE = SAMPLES / "icd10cm" / "icd10cm-tabular-2026-excerpt.xml"
ORDER_SAMPLE = SAMPLES / "icd10cm" / "icd10cm_order_2025-excerpt.txt"
TABLES = ("code_system", "concept", "concept_property", "concept_edge", "closure", "code_system_property",
          "load_run")


def _codes(engine: Engine) -> dict[str, tuple[str, bool]]:
    with engine.connect() as conn:
        return {code: (display, bool(abstract)) for code, display, abstract in conn.execute(text(
            "SELECT code, display, abstract FROM concept"))}


def _parents(engine: Engine) -> dict[str, list[str]]:
    parents: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for parent, child in conn.execute(text(
                "SELECT p.code, c.code FROM concept_edge e JOIN concept p ON p.concept_id = e.parent_id "
                "JOIN concept c ON c.concept_id = e.child_id")):
            parents.setdefault(child, []).append(parent)
    return parents


def _properties(engine: Engine, code: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for name, value in conn.execute(text(
                "SELECT p.code, p.value FROM concept_property p JOIN concept c ON c.concept_id = p.concept_id "
                "WHERE c.code = :code ORDER BY p.concept_property_id"), {"code": code}):
            found.setdefault(name, []).append(value)
    return found


def _snapshot(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()) for table in TABLES}


# --- the sample excerpt -------------------------------------------------------------------------------------

def test_sample_loads_chapters_blocks_and_codes_in_dotted_form(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    codes = _codes(engine)
    assert {"1", "4", "19", "A00-A09", "E08-E13", "S00-S09"} <= set(codes)
    assert codes["A00.0"] == ("Cholera due to Vibrio cholerae 01, biovar cholerae", False)
    assert all(is_code(code) for code in codes if code not in {"1", "4", "19", "A00-A09", "E08-E13", "S00-S09"})


def test_version_and_system_come_from_the_release(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT url, version, is_current FROM code_system")).all()
    assert [tuple(row) for row in rows] == [(SYSTEM, "2026", True)]


def test_chapters_and_blocks_are_abstract_headers_stay_selectable(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    codes = _codes(engine)
    assert codes["1"][1] and codes["A00-A09"][1]
    assert not codes["A00"][1]
    assert _properties(engine, "A00")["billable"] == ["false"]
    assert _properties(engine, "A00.9")["billable"] == ["true"]
    assert _properties(engine, "1")["kind"] == ["chapter"]
    assert _properties(engine, "A00-A09")["kind"] == ["block"]
    assert _properties(engine, "A00")["kind"] == ["category"]
    assert _properties(engine, "A01.0")["kind"] == ["subcategory"]
    assert _properties(engine, "A01.00")["kind"] == ["code"]


def test_hierarchy_runs_chapter_block_category_subcategory_code(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    parents = _parents(engine)
    assert parents["A00-A09"] == ["1"]
    assert parents["A01"] == ["A00-A09"]
    assert parents["A01.0"] == ["A01"]
    assert parents["A01.00"] == ["A01.0"]
    assert parents["S00.00XA"] == ["S00.00"]
    assert "1" not in parents


def test_section_that_is_one_category_is_that_category_under_the_chapter(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    codes = _codes(engine)
    assert codes["B10"] == ("Other human herpesviruses", False)
    assert _parents(engine)["B10"] == ["1"]
    # the section's own excludes note is kept on the category that carries its code
    assert "burns and corrosions (T20-T32)" in _properties(engine, "T07")["excludes1"]


def test_seventh_character_codes_pad_with_x_and_extend_the_parent_display(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    codes = _codes(engine)
    assert codes["T07.XXXA"][0] == "Unspecified multiple injuries, initial encounter"
    assert codes["S00.00XS"][0] == "Unspecified superficial injury of scalp, sequela"
    assert codes["E08.3211"][0] == ("Diabetes mellitus due to underlying condition with mild nonproliferative "
                                    "diabetic retinopathy with macular edema, right eye")
    assert _properties(engine, "S00.00")["billable"] == ["false"]
    assert _properties(engine, "S00.00XA")["billable"] == ["true"]
    assert "S00.00" in codes and "S00.0XXA" not in codes


def test_seventh_character_exception_note_withholds_those_codes(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    codes = _codes(engine)
    assert "S06.1X7A" in codes and "S06.1X8A" in codes
    assert not {"S06.1X7D", "S06.1X7S", "S06.1X8D", "S06.1X8S"} & set(codes)
    assert {"S06.1X9A", "S06.1X9D", "S06.1X9S"} <= set(codes)


def test_instructional_notes_become_repeated_string_properties(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    assert _properties(engine, "A00.0")["inclusionTerm"] == ["Classical cholera"]
    chapter = _properties(engine, "1")
    assert len(chapter["excludes2"]) == 4
    assert chapter["includes"] == ["diseases generally recognized as communicable or transmissible"]
    assert chapter["useAdditionalCode"] == ["code to identify resistance to antimicrobial drugs (Z16.-)"]
    with engine.connect() as conn:
        declared: dict[str, str] = dict(conn.execute(text("SELECT code, type FROM code_system_property")).all())
    assert declared["billable"] == "boolean" and declared["kind"] == "code"
    assert {declared[name] for name in ("inclusionTerm", "excludes1", "excludes2", "includes", "codeFirst",
                                        "useAdditionalCode", "codeAlso")} == {"string"}


def test_lookup_finds_a_generated_code_with_its_parent(engine: Engine) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    with engine.connect() as conn:
        result = lookup(conn, system=SYSTEM, code="S00.01XD")
    parameters = result["parameter"]
    assert {"name": "display", "valueString": "Abrasion of scalp, subsequent encounter"} in parameters
    properties = {part["valueCode"] for p in parameters if p["name"] == "property" for part in p["part"]
                  if part["name"] == "value" and "valueCode" in part}
    assert "S00.01" in properties


def test_run_records_checksum_and_counts(engine: Engine) -> None:
    summary = run_load(engine, "icd10cm", SAMPLE)
    assert summary.counts[f"{SYSTEM}|2026"] == len(_codes(engine))
    with engine.connect() as conn:
        checksums = conn.execute(text("SELECT checksums_json FROM load_run")).scalar_one()
    assert SAMPLE.name in checksums


# --- the order file -----------------------------------------------------------------------------------------

def test_order_file_loads_as_the_release_with_year_from_its_name(engine: Engine) -> None:
    run_load(engine, "icd10cm", ORDER_SAMPLE)
    codes = _codes(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM code_system")).scalar_one() == "2025"
    assert codes["S00.00XA"][0] == "Unspecified superficial injury of scalp, initial encounter"
    parents = _parents(engine)
    assert parents["S00.00XA"] == ["S00.00"]
    assert parents["T07.XXXA"] == ["T07"]
    assert "A00" not in parents
    assert _properties(engine, "T07")["billable"] == ["false"]


def test_order_file_cross_check_agrees_with_the_same_release(engine: Engine) -> None:
    summary = run_load(engine, "icd10cm", SAMPLE, order_file=ORDER_SAMPLE)
    # the excerpt has S06.1X7A but not S06.1X7D/S: the exception note was applied as CMS does
    assert {name: n for name, n in summary.counts.items() if name.startswith("order-file:")} == {
        "order-file:only-in-order-file": 0, "order-file:only-in-tabular": 0, "order-file:display-differs": 0,
        "order-file:billable-differs": 0}


def test_order_file_cross_check_reports_each_kind_of_disagreement(engine: Engine, tmp_path: Path) -> None:
    lines = ORDER_SAMPLE.read_bytes().split(b"\r\n")
    changed = [line for line in lines if line and b" A00.0" not in line and not line[6:13].startswith(b"A000")]
    changed = [line.replace(b"Cholera, unspecified", b"Cholera, not specified") if line[6:10] == b"A009"
               else line.replace(b"T07     0", b"T07     1") for line in changed]
    changed.append(b"99999 Z9999   1 " + b"Made up".ljust(60) + b" Made up")
    order = tmp_path / "icd10cm_order_2026.txt"
    order.write_bytes(b"\r\n".join(changed) + b"\r\n")
    summary = run_load(engine, "icd10cm", SAMPLE, order_file=order)
    assert {name: n for name, n in summary.counts.items() if name.startswith("order-file:")} == {
        "order-file:only-in-order-file": 1, "order-file:only-in-tabular": 1, "order-file:display-differs": 1,
        "order-file:billable-differs": 1}


@given(order=st.integers(0, 99999), code=st.from_regex(r"\A[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}\Z"),
       flag=st.booleans(), short=st.text("abc ,", min_size=1, max_size=60).map(str.strip).filter(bool),
       long=st.text("abc ,()", min_size=1, max_size=200).map(str.strip).filter(bool))
def test_order_file_line_parses_back_to_its_fields(order: int, code: str, flag: bool, short: str,
                                                   long: str) -> None:
    line = f"{order:05d} {code:<7} {int(flag)} {short:<60} {long}"
    assert parse_line("f", 3, line) == OrderRow(3, order, dotted(code), flag, short, long)


def test_order_file_line_of_wrong_layout_names_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "icd10cm_order_2026.txt"
    good = ORDER_SAMPLE.read_bytes().split(b"\r\n")[0]
    bad.write_bytes(good + b"\r\n" + good.replace(b" 0 ", b" 7 ", 1) + b"\r\n")
    with pytest.raises(LoadError) as caught:
        list(read_order_file(bad, NullProgress()))
    assert (caught.value.line, caught.value.field_name) == (2, "flag")


# --- code forms ---------------------------------------------------------------------------------------------

@given(code=st.from_regex(r"\A[A-Z][0-9][0-9A-Z][0-9A-Z]{0,3}\Z"), char=st.from_regex(r"\A[0-9A-Z]\Z"))
def test_seventh_character_pads_to_six_then_adds_the_seventh(code: str, char: str) -> None:
    extended = with_seventh(dotted(code), char)
    plain = undotted(extended)
    assert len(plain) == 7 and plain[-1] == char
    assert plain[:len(code)] == code and set(plain[len(code):6]) <= {"X"}
    assert is_code(extended) and extended[3] == "." and dotted(plain) == extended


@given(code=st.from_regex(r"\A[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}\Z"))
def test_dotting_is_undone_by_undotting(code: str) -> None:
    assert undotted(dotted(code)) == code
    assert dotted(dotted(code)) == dotted(code)


def test_a_seven_character_code_cannot_take_another() -> None:
    with pytest.raises(ValueError):
        with_seventh("S00.00XA", "D")


@given(chars=st.lists(st.sampled_from("ADS0123"), min_size=1, max_size=3, unique=True),
       values=st.lists(st.sampled_from("0123456789"), min_size=1, max_size=3, unique=True),
       position=st.integers(4, 6))
def test_seventh_character_exception_note_is_read(chars: list[str], values: list[str], position: int) -> None:
    joined_chars = " and ".join(chars) if len(chars) < 3 else f"{chars[0]}, {chars[1]} and {chars[2]}"
    joined_values = ", or ".join(f"{v} - some outcome" for v in values)
    note = (f"7th character{'s' if len(chars) > 1 else ''} {joined_chars} do{'' if len(chars) > 1 else 'es'} "
            f"not apply to codes in category S06 with {position}th character {joined_values}.")
    rule = parse_seventh_exception(note)
    assert rule is not None
    assert (rule.scope, rule.position, rule.values, rule.characters) == ("S06", position, frozenset(values),
                                                                        frozenset(chars))


def test_ordinary_notes_are_not_exceptions() -> None:
    assert parse_seventh_exception("The appropriate 7th character is to be added to each code from category S06") \
        is None


# --- bad input ----------------------------------------------------------------------------------------------

def _sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def _line_of(content: str, needle: str) -> int:
    return content[:content.index(needle)].count("\n") + 1


def _duplicate(path: Path) -> int:
    content = _sample_text()
    marker = "<name>A00.9</name>"
    extra = "<diag>\n          <name>A00.1</name>\n          <desc>Again</desc>\n        </diag>\n        "
    at = content.index(marker)
    at = content.rindex("<diag>", 0, at)
    content = content[:at] + extra + content[at:]
    path.write_text(content, encoding="utf-8")
    return _line_of(content, extra)


def _truncated(path: Path) -> int | None:
    content = _sample_text()
    path.write_text(content[:len(content) // 2], encoding="utf-8")
    return None


def _malformed(path: Path) -> int:
    content = _sample_text().replace("<desc>Cholera, unspecified</desc>", "<desc>Cholera, unspecified</dsc>")
    path.write_text(content, encoding="utf-8")
    return _line_of(content, "</dsc>")


def _wrong_root(path: Path) -> int:
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n\n<CodeSystem xmlns="http://hl7.org/fhir">\n'
                    '  <url value="http://example.org"/>\n</CodeSystem>\n', encoding="utf-8")
    return 3


def _empty(path: Path) -> int:
    path.write_bytes(b"")
    return 1


def _wrong_encoding(path: Path) -> int:
    content = _sample_text()
    # a Latin-1 e-acute inside a file declared UTF-8
    path.write_bytes(content.encode("utf-8").replace(b"Cholera, unspecified", b"Chol\xe9ra, unspecified"))
    return _line_of(content, "Cholera, unspecified")


def _billion_laughs(path: Path) -> int:
    entities = "".join(f'  <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10))
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE ICD10CM.tabular [\n  <!ENTITY lol0 "lol">\n' + entities
                    + "]>\n<ICD10CM.tabular>\n  <version>&lol9;</version>\n</ICD10CM.tabular>\n", encoding="utf-8")
    return 2


def _external_entity(path: Path) -> int:
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE ICD10CM.tabular [\n'
                    '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
                    "<ICD10CM.tabular>\n  <version>&xxe;</version>\n</ICD10CM.tabular>\n", encoding="utf-8")
    return 2


def _not_a_release(path: Path) -> int:
    path.write_text("code,display\nA00,Cholera\n", encoding="utf-8")
    return 1


BAD: dict[str, Callable[[Path], int | None]] = {
    "duplicate code": _duplicate, "truncated": _truncated, "malformed": _malformed, "wrong root": _wrong_root,
    "empty": _empty, "wrong encoding": _wrong_encoding, "billion laughs": _billion_laughs,
    "external entity": _external_entity, "not a release": _not_a_release,
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_file_and_line_and_leaves_store_unchanged(engine: Engine, tmp_path: Path,
                                                                  case: str) -> None:
    run_load(engine, "icd10cm", SAMPLE)
    before = _snapshot(engine)
    path = tmp_path / "icd10cm-tabular-bad.xml"
    expected_line = BAD[case](path)
    with pytest.raises(LoadError) as caught:
        run_load(engine, "icd10cm", path, replace=True)
    error = caught.value
    assert error.file == str(path)
    assert error.line is not None and error.line >= 1
    if expected_line is not None:
        assert error.line == expected_line
    assert str(path) in str(error) and f"line {error.line}" in str(error)
    assert _snapshot(engine) == before


def test_duplicate_code_error_names_the_element_path(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dup.xml"
    _duplicate(path)
    with pytest.raises(LoadError) as caught:
        run_load(engine, "icd10cm", path)
    assert caught.value.path is not None and caught.value.path.endswith("section[A00-A09]/diag[A00]/diag[A00.1]")
    assert "duplicate code 'A00.1'" in caught.value.message


# --- the full 2026 release ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=ENGINES)
def full_release(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    tabular = shared_path("data", "icd10cm", "icd10c-tabular-April-1-2026.xml")
    engine = make_engine(new_store_url(str(request.param)))
    run_load(engine, "icd10cm", tabular)
    yield engine
    engine.dispose()


def _code_list() -> set[str]:
    path = shared_path("data", "icd10cm", "code-list-April-2026.txt")
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def test_full_release_holds_exactly_the_code_list(full_release: Engine) -> None:
    loaded = [undotted(code) for code in _codes(full_release)]
    assert len(loaded) == len(set(loaded))
    assert set(loaded) == _code_list()


def test_full_release_every_code_but_chapters_has_one_parent(full_release: Engine) -> None:
    codes = _codes(full_release)
    parents = _parents(full_release)
    chapters = {code for code in codes if code.isdigit()}
    assert set(parents) == set(codes) - chapters
    assert all(len(p) == 1 for p in parents.values())


def _ascii(value: str) -> str:
    # the order file is ASCII (Sézary -> Sezary)
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()


def test_full_release_generated_displays_read_as_the_order_file(full_release: Engine) -> None:
    """Where the order file and the tabular agree on a code's description, they agree on every 7th-character
    code built on it (the order file is FY2025, so some descriptions changed since)."""
    rows = {row.code: row for row in read_order_file(
        shared_path("data", "icd10cm", "icd10cm_order_2025.reconstructed.txt"), NullProgress())}
    codes = _codes(full_release)
    parents = _parents(full_release)
    compared = 0
    for code, (display, _) in codes.items():
        row = rows.get(code)
        if row is None or len(undotted(code)) != 7:
            continue
        parent = parents[code][0]
        if parent not in rows or _ascii(codes[parent][0]) != rows[parent].long:
            continue
        compared += 1
        assert _ascii(display) == row.long, code
    assert compared > 40_000


def test_full_release_billable_flags_match_the_order_file_for_codes_unchanged(full_release: Engine) -> None:
    rows = {row.code: row for row in read_order_file(
        shared_path("data", "icd10cm", "icd10cm_order_2025.reconstructed.txt"), NullProgress())}
    with full_release.connect() as conn:
        billable: dict[str, Any] = dict(conn.execute(text(
            "SELECT c.code, p.value FROM concept c JOIN concept_property p ON p.concept_id = c.concept_id "
            "WHERE p.code = 'billable'")).all())
    agree = sum(1 for code, row in rows.items() if code in billable and (billable[code] == "true") == row.billable)
    both = sum(1 for code in rows if code in billable)
    # FY2026 turned a handful of 2025 codes into headers (new codes below them); nothing else may differ
    assert both - agree < 50 and both > 90_000


def test_version_asked_for_must_be_the_releases_own(engine: Engine) -> None:
    with pytest.raises(LoadError) as caught:
        run_load(engine, "icd10cm", SAMPLE, version="2025")
    assert caught.value.field_name == "version" and caught.value.line == 3
    assert _snapshot(engine)["code_system"] == 0


# --- any well-formed tabular tree -----------------------------------------------------------------------------

_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWYZ"  # no X: it is the placeholder
_Node = tuple[str, list[str] | None, list[Any]]  # (code, 7th characters defined here, children)


@st.composite
def _node(draw: st.DrawFn, code: str) -> _Node:
    seventh = draw(st.none() | st.lists(st.sampled_from("ADGS"), min_size=1, max_size=3, unique=True))
    children: list[_Node] = []
    if len(undotted(code)) < 6:
        suffixes = draw(st.lists(st.sampled_from(_CHARS), max_size=3, unique=True))
        children = [draw(_node(dotted(undotted(code) + suffix))) for suffix in suffixes]
    return code, seventh, children


def _xml(node: _Node) -> str:
    code, seventh, children = node
    rules = ("<sevenChrDef>" + "".join(f'<extension char="{c}">meaning {c}</extension>' for c in seventh)
             + "</sevenChrDef>") if seventh else ""
    return (f"<diag><name>{code}</name><desc>Title of {code}</desc><inclusionTerm><note>term {code}</note>"
            f"</inclusionTerm>{rules}{''.join(_xml(child) for child in children)}</diag>")


def _expected(node: _Node, inherited: list[str] | None, out: dict[str, str]) -> None:
    code, seventh, children = node
    rules = seventh or inherited
    out[code] = f"Title of {code}"
    for child in children:
        _expected(child, rules, out)
    if not children and rules:
        for char in rules:
            out[dotted(undotted(code).ljust(6, "X") + char)] = f"Title of {code}, meaning {char}"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(categories=st.lists(st.sampled_from(["A01", "A02", "A05", "A07"]), min_size=1, max_size=3, unique=True)
       .flatmap(lambda codes: st.tuples(*[_node(code) for code in sorted(codes)])))
def test_any_tabular_tree_loads_its_codes_and_generated_codes(engine: Engine, tmp_path: Path,
                                                              categories: tuple[_Node, ...]) -> None:
    path = tmp_path / "tree.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<ICD10CM.tabular><version>2099</version><chapter>'
                    "<name>1</name><desc>Chapter one</desc><section id=\"A00-A09\"><desc>Block</desc>"
                    + "".join(_xml(node) for node in categories) + "</section></chapter></ICD10CM.tabular>\n",
                    encoding="utf-8")
    expected: dict[str, str] = {"1": "Chapter one", "A00-A09": "Block"}
    for node in categories:
        _expected(node, None, expected)
    run_load(engine, "icd10cm", path, replace=True)
    assert {code: display for code, (display, _) in _codes(engine).items()} == expected


def test_cli_cross_checks_against_an_order_file_and_reports_bad_input(store_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--db", store_url, "load", "-q", "icd10cm", str(SAMPLE), "--order-file",
                                 str(ORDER_SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "order-file:display-differs: 0" in result.output
    bad = tmp_path / "bad.xml"
    _malformed(bad)
    result = runner.invoke(app, ["--db", store_url, "load", "-q", "icd10cm", str(bad), "--replace"])
    assert result.exit_code != 0
    assert "store unchanged" in result.output and str(bad) in result.output.replace("\n", "")
