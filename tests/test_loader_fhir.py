"""The FHIR resource loader: CodeSystems (hierarchy, typed properties, designations, status, content),
ValueSets and ConceptMaps from JSON, XML, Bundles, folders and NPM packages, on both engines; bad input is
refused with file, line or element path, and leaves the store as it was."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine, text

from termsvc.errors import Conflict, LoadError
from termsvc.fhir_xml import to_xml
from termsvc.loaders.fhir_resources import write_code_system
from termsvc.loaders.fhir_sources import parse_bytes
from termsvc.ops.loading import run_load
from termsvc.store.engine import make_engine
from termsvc.store.loadrun import load_run
from tests.conftest import ENGINES, SAMPLES, shared_path

COLOURS = "http://example.org/fhir/CodeSystem/colours"
SAMPLE_JSON = SAMPLES / "fhir" / "CodeSystem-example-colours.json"
SAMPLE_XML = SAMPLES / "fhir" / "xml" / "CodeSystem-example-colours.xml"
TABLES = ("code_system", "concept", "concept_edge", "closure", "designation", "concept_property",
          "code_system_property", "value_set", "concept_map", "concept_map_element", "load_run")


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params).all()]


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _counts(engine: Engine) -> dict[str, int]:
    return {table: int(_scalar(engine, f"SELECT COUNT(*) FROM {table}")) for table in TABLES}


def _write(folder: Path, name: str, resource: dict[str, Any] | bytes) -> Path:
    path = folder / name
    path.write_bytes(resource if isinstance(resource, bytes) else json.dumps(resource).encode())
    return path


def _cs(url: str = "http://example.org/cs", version: str = "1", **fields: Any) -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "url": url, "version": version, "status": "active",
            "content": "complete", **fields}


def _concept_rows(engine: Engine, url: str) -> set[tuple[Any, ...]]:
    return set(_rows(engine, "SELECT c.code, c.display, c.definition, c.active, c.abstract, c.status FROM concept c "
                             "JOIN code_system s USING (code_system_id) WHERE s.url = :url", url=url))


def _ancestors(engine: Engine, url: str, code: str) -> set[str]:
    rows = _rows(engine, "SELECT a.code FROM closure k JOIN concept a ON a.concept_id = k.ancestor_id "
                         "JOIN concept d ON d.concept_id = k.descendant_id JOIN code_system s "
                         "ON s.code_system_id = d.code_system_id WHERE s.url = :url AND d.code = :code "
                         "AND a.concept_id <> d.concept_id", url=url, code=code)
    return {row[0] for row in rows}


def _properties(engine: Engine, url: str, code: str) -> set[tuple[Any, ...]]:
    return set(_rows(engine, "SELECT p.code, p.type, p.value, p.value_system, p.value_display FROM concept_property p "
                             "JOIN concept c USING (concept_id) JOIN code_system s "
                             "ON s.code_system_id = c.code_system_id WHERE s.url = :url AND c.code = :code",
                     url=url, code=code))


def _snapshot(engine: Engine, url: str) -> dict[str, Any]:
    """Everything stored for one code system, without the ids the load assigned."""
    return {
        "concepts": _concept_rows(engine, url),
        "edges": set(_rows(engine, "SELECT p.code, c.code FROM concept_edge e JOIN concept p ON p.concept_id = "
                                   "e.parent_id JOIN concept c ON c.concept_id = e.child_id JOIN code_system s ON "
                                   "s.code_system_id = e.code_system_id WHERE s.url = :url", url=url)),
        "designations": set(_rows(engine, "SELECT c.code, d.language, d.use_system, d.use_code, d.use_display, "
                                          "d.value FROM designation d JOIN concept c USING (concept_id) JOIN "
                                          "code_system s ON s.code_system_id = c.code_system_id WHERE s.url = :url",
                                  url=url)),
        "properties": set(_rows(engine, "SELECT c.code, p.code, p.type, p.value, p.value_system, p.value_display "
                                        "FROM concept_property p JOIN concept c USING (concept_id) JOIN code_system "
                                        "s ON s.code_system_id = c.code_system_id WHERE s.url = :url", url=url)),
        "declared": set(_rows(engine, "SELECT p.code, p.type, p.uri FROM code_system_property p JOIN code_system s "
                                      "USING (code_system_id) WHERE s.url = :url", url=url)),
    }


@pytest.fixture(scope="module", params=ENGINES)
def samples(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url(request.param), pool_size=2)
    run_load(engine, "fhir", SAMPLES / "fhir")
    yield engine
    engine.dispose()


# --- the sample folder ------------------------------------------------------------------------------------

def test_nested_concepts_and_parent_properties_become_the_hierarchy(samples: Engine) -> None:
    assert _ancestors(samples, COLOURS, "crimson") == {"red", "colour"}
    assert _ancestors(samples, COLOURS, "navy") == {"blue", "colour"}
    assert _ancestors(samples, COLOURS, "puce") == set()


def test_properties_are_stored_with_their_types(samples: Engine) -> None:
    assert _properties(samples, COLOURS, "red") == {
        ("hex", "string", "#ff0000", None, None), ("wavelength", "integer", "700", None, None),
        ("luminance", "decimal", "0.2126", None, None), ("primary", "boolean", "true", None, None),
        ("added", "dateTime", "2020-01-01", None, None),
        ("sameAs", "Coding", "R", "http://example.org/fhir/CodeSystem/other", "Red (other)")}


def test_declared_properties_are_kept_with_uri_and_type(samples: Engine) -> None:
    declared = _snapshot(samples, COLOURS)["declared"]
    assert ("status", "code", "http://hl7.org/fhir/concept-properties#status") in declared
    assert ("sameAs", "Coding", None) in declared
    assert len(declared) == 9


def test_designations_keep_language_and_use(samples: Engine) -> None:
    designations = _snapshot(samples, COLOURS)["designations"]
    assert ("red", "de", None, None, None, "Rot") in designations
    assert ("red", "fr", "http://snomed.info/sct", "900000000000013009", "Synonym", "Rouge") in designations


def test_status_properties_set_active_status_and_abstract(samples: Engine) -> None:
    concepts = {row[0]: row for row in _concept_rows(samples, COLOURS)}
    assert concepts["colour"][3:] == (True, True, None)
    assert concepts["puce"][3:] == (False, False, "retired")
    assert concepts["mauve"][3:] == (True, False, "deprecated")
    assert concepts["red"][3:] == (True, False, None)


def test_the_xml_twin_in_the_same_folder_is_written_once(samples: Engine) -> None:
    assert _scalar(samples, "SELECT COUNT(*) FROM code_system WHERE url = :u", u=COLOURS) == 1
    counts = json.loads(_scalar(samples, "SELECT counts_json FROM load_run"))
    assert counts["identical repeats skipped"] == 1


def test_value_sets_and_concept_maps_in_the_input_are_stored(samples: Engine) -> None:
    assert _scalar(samples, "SELECT name FROM value_set") == "ExamplePrimaryColours"
    targets = set(_rows(samples, "SELECT source_code, target_code, equivalence FROM concept_map_element"))
    assert targets == {("red", "R", "equivalent"), ("crimson", "R", "narrower"), ("green", "G", "equivalent"),
                       ("puce", None, "unmatched")}


def test_code_system_row_keeps_the_resource_without_concepts(samples: Engine) -> None:
    row = _rows(samples, "SELECT version, name, content, hierarchy_meaning, concept_count, resource_json "
                         "FROM code_system WHERE url = :u", u=COLOURS)[0]
    assert row[:5] == ("1.0.0", "ExampleColours", "complete", "is-a", 9)
    stored = json.loads(row[5])
    assert "concept" not in stored and stored["count"] == 9


# --- JSON and XML, single files, bundles --------------------------------------------------------------------

def test_xml_and_json_of_one_code_system_store_the_same_rows(engine: Engine) -> None:
    run_load(engine, "fhir", SAMPLE_JSON)
    from_json = _snapshot(engine, COLOURS)
    run_load(engine, "fhir", SAMPLE_XML, replace=True)
    assert _snapshot(engine, COLOURS) == from_json


def test_a_bundle_of_terminology_resources_loads_from_one_file(engine: Engine, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _cs(concept=[{"code": "a"}])},
        {"resource": {"resourceType": "Patient", "id": "p"}},
        {"resource": {"resourceType": "ValueSet", "url": "http://example.org/vs", "status": "active"}}]}
    summary = run_load(engine, "fhir", _write(tmp_path, "bundle.json", bundle))
    assert _scalar(engine, "SELECT COUNT(*) FROM concept") == 1
    assert _scalar(engine, "SELECT url FROM value_set") == "http://example.org/vs"
    assert summary.counts["skipped:Patient"] == 1


def test_a_bundle_in_xml_loads(engine: Engine, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": _cs(concept=[{"code": "x"}])}]}
    run_load(engine, "fhir", _write(tmp_path, "bundle.xml", to_xml(bundle)))
    assert _scalar(engine, "SELECT code FROM concept") == "x"


def test_a_folder_is_read_recursively_skipping_other_resources(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    _write(tmp_path, "a.json", _cs("http://example.org/a", concept=[{"code": "a"}]))
    _write(tmp_path / "sub" / "deeper", "b.xml", to_xml(_cs("http://example.org/b", concept=[{"code": "b"}])))
    _write(tmp_path / "sub", "sd.json", {"resourceType": "StructureDefinition", "url": "http://example.org/sd"})
    _write(tmp_path, "package.json", {"name": "example", "version": "1.0.0"})
    summary = run_load(engine, "fhir", tmp_path)
    assert set(_rows(engine, "SELECT url FROM code_system")) == {("http://example.org/a",), ("http://example.org/b",)}
    assert summary.counts["skipped:StructureDefinition"] == 1
    checksums = json.loads(_scalar(engine, "SELECT checksums_json FROM load_run"))
    assert set(checksums) >= {"a.json", "sub/deeper/b.xml"}


# --- content, supplements, write_code_system -----------------------------------------------------------------

def test_not_present_content_is_stored_without_concepts(engine: Engine, tmp_path: Path) -> None:
    run_load(engine, "fhir", _write(tmp_path, "cs.json", _cs(content="not-present", concept=[{"code": "a"}])))
    assert _rows(engine, "SELECT content, concept_count FROM code_system") == [("not-present", 0)]
    assert _scalar(engine, "SELECT COUNT(*) FROM concept") == 0


@pytest.mark.parametrize("content", ["example", "fragment"])
def test_example_and_fragment_keep_their_concepts_and_outside_parents(engine: Engine, tmp_path: Path,
                                                                       content: str) -> None:
    cs = _cs(content=content, concept=[{"code": "a", "property": [{"code": "parent", "valueCode": "elsewhere"}]}])
    run_load(engine, "fhir", _write(tmp_path, "cs.json", cs))
    assert _rows(engine, "SELECT content FROM code_system") == [(content,)]
    assert _properties(engine, "http://example.org/cs", "a") == {("parent", "code", "elsewhere", None, None)}
    assert _scalar(engine, "SELECT COUNT(*) FROM concept_edge") == 0


def test_a_supplement_is_its_own_row_naming_what_it_supplements(engine: Engine, tmp_path: Path) -> None:
    supplement = _cs("http://example.org/supp", content="supplement", supplements="http://example.org/cs|1",
                     concept=[{"code": "a", "designation": [{"language": "nl", "value": "Aa"}]}])
    run_load(engine, "fhir", _write(tmp_path, "supp.json", supplement))
    assert _rows(engine, "SELECT url, content, supplements FROM code_system") == [
        ("http://example.org/supp", "supplement", "http://example.org/cs|1")]
    assert _scalar(engine, "SELECT value FROM designation") == "Aa"


def test_child_properties_and_inactive_flags_are_read(engine: Engine) -> None:
    cs = _cs(property=[{"code": "kind", "uri": "http://hl7.org/fhir/concept-properties#child", "type": "code"}],
             concept=[{"code": "top", "property": [{"code": "kind", "valueCode": "low"}]},
                      {"code": "low", "property": [{"code": "inactive", "valueBoolean": True}]}])
    with load_run(engine, "fhir", "inline") as run:
        write_code_system(run, cs)
    assert _ancestors(engine, "http://example.org/cs", "low") == {"top"}
    assert _rows(engine, "SELECT active, status FROM concept WHERE code = 'low'") == [(False, None)]


def test_write_code_system_needs_no_file_and_respects_current(engine: Engine) -> None:
    with load_run(engine, "fhir", "inline") as run:
        write_code_system(run, _cs(version="2", concept=[{"code": "a"}]))
        write_code_system(run, _cs(version="1", concept=[{"code": "a"}]), current=True)
    assert _rows(engine, "SELECT version FROM code_system WHERE is_current") == [("1",)]


def test_parent_named_both_by_nesting_and_property_is_one_edge(engine: Engine) -> None:
    with load_run(engine, "fhir", "inline") as run:
        write_code_system(run, _cs(concept=[{"code": "p", "concept": [
            {"code": "c", "property": [{"code": "parent", "valueCode": "p"}]}]}]))
    assert _scalar(engine, "SELECT COUNT(*) FROM concept_edge") == 1


def test_reloading_a_version_is_refused_unless_replacing(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "cs.json", _cs(concept=[{"code": "a"}]))
    run_load(engine, "fhir", path)
    with pytest.raises(Conflict):
        run_load(engine, "fhir", path)
    run_load(engine, "fhir", path, replace=True)
    assert _scalar(engine, "SELECT COUNT(*) FROM concept") == 1


# --- NPM packages ----------------------------------------------------------------------------------------------

def _package(folder: Path, members: dict[str, bytes]) -> Path:
    path = folder / "example.pkg-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_package_reads_only_top_level_json_members(engine: Engine, tmp_path: Path) -> None:
    path = _package(tmp_path, {
        "package/package.json": b'{"name": "example.pkg", "version": "1.0.0"}',
        "package/CodeSystem-a.json": json.dumps(_cs(concept=[{"code": "a"}])).encode(),
        "package/StructureDefinition-x.json": b'{"resourceType": "StructureDefinition", "url": "http://x"}',
        "package/example/CodeSystem-ex.json": json.dumps(_cs("http://example.org/ex")).encode(),
        "package/other/notes.txt": b"not json",
    })
    summary = run_load(engine, "fhir", path)
    assert _rows(engine, "SELECT url FROM code_system") == [("http://example.org/cs",)]
    assert summary.counts["skipped:StructureDefinition"] == 1
    assert "example.pkg-1.0.0.tgz" in json.loads(_scalar(engine, "SELECT checksums_json FROM load_run"))


def test_duplicate_codes_in_a_published_package_keep_the_first_and_say_so(engine: Engine, tmp_path: Path) -> None:
    cs = _cs(concept=[{"code": "a", "display": "First"}, {"code": "a", "display": "Second"}])
    summary = run_load(engine, "fhir", _package(tmp_path, {"package/CodeSystem-a.json": json.dumps(cs).encode()}))
    assert _rows(engine, "SELECT display FROM concept") == [("First",)]
    assert summary.counts["duplicate codes dropped:http://example.org/cs|1"] == 1


def test_strict_makes_duplicate_codes_in_a_package_an_error(engine: Engine, tmp_path: Path) -> None:
    cs = _cs(concept=[{"code": "a"}, {"code": "a"}])
    with pytest.raises(LoadError, match="duplicate code 'a'"):
        run_load(engine, "fhir", _package(tmp_path, {"package/CodeSystem-a.json": json.dumps(cs).encode()}),
                 strict=True)


def test_different_resources_with_one_url_in_a_package_keep_the_first(engine: Engine, tmp_path: Path) -> None:
    members = {"package/CodeSystem-a.json": json.dumps(_cs(concept=[{"code": "a"}])).encode(),
               "package/CodeSystem-b.json": json.dumps(_cs(concept=[{"code": "b"}])).encode()}
    summary = run_load(engine, "fhir", _package(tmp_path, members))
    assert _rows(engine, "SELECT code FROM concept") == [("a",)]
    assert summary.counts["repeat dropped:CodeSystem http://example.org/cs|1"] == 1
    with pytest.raises(LoadError, match="appears twice"):
        run_load(engine, "fhir", _package(tmp_path, members), strict=True, replace=True)


def test_other_resources_in_a_folder_are_skipped_unparsed(engine: Engine, tmp_path: Path) -> None:
    """A Patient with an element R4B does not know, and XML that is not FHIR, do not stop the load."""
    _write(tmp_path, "cs.json", _cs(concept=[{"code": "a"}]))
    _write(tmp_path, "patient.xml", b'<Patient xmlns="http://hl7.org/fhir"><colour value="x"/></Patient>')
    _write(tmp_path, "schematron.xml", b'<schema xmlns="http://purl.oclc.org/dsdl/schematron"/>')
    _write(tmp_path, "openapi.json", {"openapi": "3.0.1"})
    _write(tmp_path, "provenance.json", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Provenance", "target": [{"reference": "CodeSystem/x"}]}}]})
    summary = run_load(engine, "fhir", tmp_path)
    assert summary.counts["skipped:Patient"] == 1
    assert summary.counts["skipped:Bundle"] == 1
    assert summary.counts["skipped:non-FHIR XML"] == 1
    assert summary.counts["skipped:non-FHIR JSON"] == 1


def test_a_corrupt_package_is_an_error_naming_it(engine: Engine, tmp_path: Path) -> None:
    good = _package(tmp_path, {"package/CodeSystem-a.json": json.dumps(_cs(concept=[{"code": "a"}])).encode()})
    bad = tmp_path / "broken.tgz"
    bad.write_bytes(good.read_bytes()[:40])
    with pytest.raises(LoadError) as caught:
        run_load(engine, "fhir", bad)
    assert caught.value.file == str(bad)
    assert _counts(engine)["code_system"] == 0


@pytest.fixture(scope="module", params=ENGINES)
def r4b_core(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[tuple[Engine, Any]]:
    package = shared_path("data", "fhir-packages", "hl7.fhir.r4b.core-4.3.0.tgz")
    engine = make_engine(new_store_url(request.param), pool_size=2)
    summary = run_load(engine, "fhir", package)
    yield engine, summary
    engine.dispose()


def _package_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with tarfile.open(path, "r:gz") as tar:
        for name in tar.getnames():
            kind = name.split("/")[-1].split("-")[0]
            if name.count("/") == 1 and name.endswith(".json"):
                counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_the_whole_r4b_core_package_loads(r4b_core: tuple[Engine, Any]) -> None:
    engine, summary = r4b_core
    expected = _package_counts(shared_path("data", "fhir-packages", "hl7.fhir.r4b.core-4.3.0.tgz"))
    assert _scalar(engine, "SELECT COUNT(*) FROM code_system") == expected["CodeSystem"]
    assert _scalar(engine, "SELECT COUNT(*) FROM value_set") == expected["ValueSet"]
    assert _scalar(engine, "SELECT COUNT(*) FROM concept_map") == expected["ConceptMap"]
    assert summary.counts["skipped:StructureDefinition"] == expected["StructureDefinition"]


def test_r4b_core_hierarchies_and_known_concepts_are_there(r4b_core: tuple[Engine, Any]) -> None:
    engine, _ = r4b_core
    genders = {row[0] for row in _rows(engine, "SELECT c.code FROM concept c JOIN code_system s USING "
                                               "(code_system_id) WHERE s.url = 'http://hl7.org/fhir/administrative-gender'")}
    assert genders == {"male", "female", "other", "unknown"}
    assert _ancestors(engine, "http://hl7.org/fhir/resource-types", "Patient") == {"DomainResource", "Resource"}


def test_r4b_core_duplicate_code_is_reported_not_hidden(r4b_core: tuple[Engine, Any]) -> None:
    _, summary = r4b_core
    assert summary.counts["duplicate codes dropped:http://hl7.org/fhir/therapy-relationship-type|4.3.0"] == 1


# --- bad input: each is a LoadError naming the place, and the store is unchanged ---------------------------------

def _refused(engine: Engine, path: Path) -> LoadError:
    run_load(engine, "fhir", SAMPLE_JSON)
    before = _counts(engine)
    with pytest.raises(LoadError) as caught:
        run_load(engine, "fhir", path)
    assert _counts(engine) == before
    return caught.value


def test_truncated_json_names_file_and_line(engine: Engine, tmp_path: Path) -> None:
    text_ = json.dumps(_cs(concept=[{"code": "a"}]), indent=2)
    path = _write(tmp_path, "cs.json", text_[: len(text_) - 20].encode())
    err = _refused(engine, path)
    assert err.file == str(path) and err.line is not None and "malformed JSON" in err.message


def test_malformed_xml_names_file_and_line(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "cs.xml", b'<CodeSystem xmlns="http://hl7.org/fhir">\n<url value="x">\n</CodeSystem>')
    err = _refused(engine, path)
    assert err.file == str(path) and err.line == 3


def test_xml_with_an_unknown_element_names_line_and_path(engine: Engine, tmp_path: Path) -> None:
    data = to_xml(_cs(concept=[{"code": "a"}])).replace(b"<code value=\"a\"/>", b"<code value=\"a\"/><size value=\"1\"/>")
    err = _refused(engine, _write(tmp_path, "cs.xml", data))
    assert err.path == "CodeSystem.concept[0].size"


def test_a_patient_is_the_wrong_kind_of_file(engine: Engine, tmp_path: Path) -> None:
    err = _refused(engine, _write(tmp_path, "p.json", {"resourceType": "Patient", "id": "x"}))
    assert "a Patient resource, not a CodeSystem" in err.message


def test_json_that_is_not_fhir_is_refused(engine: Engine, tmp_path: Path) -> None:
    err = _refused(engine, _write(tmp_path, "x.json", {"name": "not fhir"}))
    assert "no resourceType" in err.message


def test_an_empty_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    err = _refused(engine, _write(tmp_path, "empty.json", b""))
    assert "empty file" in err.message


def test_a_folder_without_terminology_resources_is_refused(engine: Engine, tmp_path: Path) -> None:
    _write(tmp_path, "p.json", {"resourceType": "Patient"})
    err = _refused(engine, tmp_path)
    assert "no CodeSystem, ValueSet or ConceptMap" in err.message


def test_duplicate_codes_name_the_element_path(engine: Engine, tmp_path: Path) -> None:
    cs = _cs(concept=[{"code": "a"}, {"code": "b", "concept": [{"code": "c"}, {"code": "a"}]}])
    err = _refused(engine, _write(tmp_path, "cs.json", cs))
    assert "duplicate code 'a'" in err.message
    assert err.path == "CodeSystem.concept[1].concept[1].code"


def test_duplicate_codes_in_xml_name_the_line(engine: Engine, tmp_path: Path) -> None:
    root = etree.fromstring(to_xml(_cs(concept=[{"code": "a"}, {"code": "a"}])))
    etree.indent(root)
    data = etree.tostring(root)
    err = _refused(engine, _write(tmp_path, "cs.xml", data))
    assert err.path == "CodeSystem.concept[1].code"
    code_lines = [n for n, line in enumerate(data.decode().splitlines(), 1) if '<code value="a"/>' in line]
    assert err.line == code_lines[1]


def test_a_parent_property_naming_a_missing_code_is_refused(engine: Engine, tmp_path: Path) -> None:
    cs = _cs(concept=[{"code": "a"}, {"code": "b", "property": [{"code": "parent", "valueCode": "zz"}]}])
    err = _refused(engine, _write(tmp_path, "cs.json", cs))
    assert "parent code 'zz' is not defined" in err.message
    assert err.path == "CodeSystem.concept[1].property[0]"


def test_a_wrongly_typed_property_value_is_refused(engine: Engine, tmp_path: Path) -> None:
    cs = _cs(concept=[{"code": "a", "property": [{"code": "inactive", "valueBoolean": "true"}]}])
    err = _refused(engine, _write(tmp_path, "cs.json", cs))
    assert err.path == "CodeSystem.concept[0].property[0].valueBoolean"


def test_latin1_bytes_are_a_wrong_encoding_with_their_line(engine: Engine, tmp_path: Path) -> None:
    data = json.dumps(_cs(concept=[{"code": "a", "display": "Gr\u00fcn"}]), indent=1, ensure_ascii=False)
    err = _refused(engine, _write(tmp_path, "cs.json", data.encode("latin-1")))
    assert "not valid UTF-8" in err.message
    assert err.line == next(n for n, line in enumerate(data.splitlines(), 1) if "Gr" in line)


def test_utf16_is_a_wrong_encoding(engine: Engine, tmp_path: Path) -> None:
    err = _refused(engine, _write(tmp_path, "cs.json", json.dumps(_cs()).encode("utf-16")))
    assert "UTF-16" in err.message


def test_latin1_bytes_in_xml_declared_utf8_are_refused_with_their_line(engine: Engine, tmp_path: Path) -> None:
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n<CodeSystem xmlns="http://hl7.org/fhir">\n'
            '<url value="http://example.org/cs"/>\n<title value="Gr\u00fcn"/>\n</CodeSystem>').encode("latin-1")
    err = _refused(engine, _write(tmp_path, "cs.xml", data))
    assert "not valid UTF-8" in err.message
    assert err.line == 4


def test_two_different_resources_with_one_url_and_version_name_both_files(engine: Engine, tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _cs(concept=[{"code": "a"}]))
    _write(tmp_path, "b.json", _cs(concept=[{"code": "b"}]))
    err = _refused(engine, tmp_path)
    assert "appears twice" in err.message
    assert str(tmp_path / "a.json") in err.message and err.file == str(tmp_path / "b.json")


def test_a_code_system_without_url_is_refused(engine: Engine, tmp_path: Path) -> None:
    cs = _cs()
    del cs["url"]
    err = _refused(engine, _write(tmp_path, "cs.json", cs))
    assert err.path == "CodeSystem.url"


def test_a_supplement_must_name_what_it_supplements(engine: Engine, tmp_path: Path) -> None:
    err = _refused(engine, _write(tmp_path, "cs.json", _cs(content="supplement")))
    assert err.path == "CodeSystem.supplements"


def test_a_failure_late_in_a_folder_undoes_the_earlier_files(engine: Engine, tmp_path: Path) -> None:
    _write(tmp_path, "a.json", _cs("http://example.org/a", concept=[{"code": "a"}]))
    _write(tmp_path, "b.json", _cs("http://example.org/b", concept=[{"code": "b"}, {"code": "b"}]))
    shutil.copy(SAMPLES / "fhir" / "ValueSet-example-primary-colours.json", tmp_path / "c.json")
    _refused(engine, tmp_path)


# --- the parsers never fail in any other way ------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_to_a_resource_or_a_load_error(data: bytes) -> None:
    try:
        resource, _ = parse_bytes("input", data)
    except LoadError as exc:
        assert exc.file == "input"
    else:
        assert isinstance(resource.get("resourceType"), str)


@pytest.fixture(scope="module")
def scratch(new_store_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = make_engine(new_store_url("sqlite"), pool_size=1)
    yield engine
    engine.dispose()


class _Undo(Exception):
    """Raised to roll a successful scratch load back, so every example starts from an empty store."""


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["code", "display", "concept", "property", "designation", "valueCode",
                                          "valueBoolean", "value", "language", "use"]), inner, max_size=4),
                     max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_any_concept_tree_is_written_or_refused_with_a_load_error(scratch: Engine, tree: Any) -> None:
    try:
        with load_run(scratch, "fhir", "hypothesis") as run:
            write_code_system(run, _cs(concept=tree))
            raise _Undo
    except (LoadError, _Undo):
        pass
    assert _scalar(scratch, "SELECT COUNT(*) FROM concept") == 0
