"""Reading FHIR XML: the JSON form it gives matches the spec's JSON representation, round trips with the
writer, and bad XML is an Invalid naming the line and the element path."""

from __future__ import annotations

import contextlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from termsvc.errors import Invalid
from termsvc.fhir_xml import to_xml
from termsvc.fhir_xml_read import FhirXmlError, from_xml
from tests.conftest import SAMPLES, shared_path

NS = 'xmlns="http://hl7.org/fhir"'


def xml(body: str) -> bytes:
    return body.encode()


# ---- shape: arrays, types, primitives' ids and extensions ----

def test_element_that_repeats_is_a_list_even_when_it_appears_once() -> None:
    out = from_xml(xml(f'<CodeSystem {NS}><url value="http://x"/><concept><code value="a"/></concept>'
                       '</CodeSystem>'))
    assert out == {"resourceType": "CodeSystem", "url": "http://x", "concept": [{"code": "a"}]}


def test_booleans_integers_and_decimals_get_their_json_types() -> None:
    out = from_xml(xml(f'<CodeSystem {NS}><caseSensitive value="true"/><count value="12"/>'
                       '<concept><code value="a"/><property><code value="w"/><valueDecimal value="1.50"/>'
                       '</property><property><code value="n"/><valueInteger value="-3"/></property></concept>'
                       '</CodeSystem>'))
    assert out["caseSensitive"] is True
    assert out["count"] == 12
    props = out["concept"][0]["property"]
    assert props[0]["valueDecimal"] == 1.5
    assert props[1]["valueInteger"] == -3


def test_dates_and_codes_stay_strings() -> None:
    out = from_xml(xml(f'<CodeSystem {NS}><date value="2020-01-01"/><version value="007"/></CodeSystem>'))
    assert out["date"] == "2020-01-01"
    assert out["version"] == "007"


def test_id_and_extension_on_a_primitive_go_in_the_underscore_companion() -> None:
    out = from_xml(xml(f'<CodeSystem {NS}><title id="t1" value="T"><extension url="http://e">'
                       '<valueString value="x"/></extension></title></CodeSystem>'))
    assert out["title"] == "T"
    assert out["_title"] == {"id": "t1", "extension": [{"url": "http://e", "valueString": "x"}]}


def test_primitive_with_only_an_extension_has_no_value_key() -> None:
    out = from_xml(xml(f'<CodeSystem {NS}><title><extension url="http://e"><valueCode value="x"/>'
                       '</extension></title></CodeSystem>'))
    assert "title" not in out
    assert out["_title"] == {"extension": [{"url": "http://e", "valueCode": "x"}]}


def test_repeating_primitive_extras_are_aligned_with_nulls() -> None:
    out = from_xml(xml(f'<ValueSet {NS}><compose><include><system value="http://s"/>'
                       '<valueSet value="http://a"/><valueSet id="b" value="http://b"/></include></compose>'
                       '</ValueSet>'))
    include = out["compose"]["include"][0]
    assert include["valueSet"] == ["http://a", "http://b"]
    assert include["_valueSet"] == [None, {"id": "b"}]


def test_element_id_is_an_attribute_and_extension_url_is_kept() -> None:
    out = from_xml(xml(f'<CodeSystem {NS}><id value="cs"/><extension id="e1" url="http://e">'
                       '<valueBoolean value="false"/></extension></CodeSystem>'))
    assert out["id"] == "cs"
    assert out["extension"] == [{"id": "e1", "url": "http://e", "valueBoolean": False}]


def test_narrative_div_is_kept_as_an_xhtml_string() -> None:
    out = from_xml(xml(f'<CodeSystem {NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><text>'
                       '<status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>a <b>b</b></p>'
                       '</div></text></CodeSystem>'))
    assert out["text"] == {"status": "generated",
                           "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>a <b>b</b></p></div>'}


def test_prefixed_narrative_becomes_default_namespace_xhtml() -> None:
    out = from_xml(b'<f:CodeSystem xmlns:f="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml">'
                   b'<f:text><f:status value="generated"/><h:div><h:p>x</h:p></h:div></f:text></f:CodeSystem>')
    assert out["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>'


def test_resources_nest_in_parameters_bundles_and_contained() -> None:
    out = from_xml(xml(
        f'<Parameters {NS}><parameter><name value="tx-resource"/><resource><CodeSystem><url value="http://c"/>'
        '<contained><ValueSet><id value="v"/></ValueSet></contained></CodeSystem></resource></parameter>'
        '<parameter><name value="b"/><resource><Bundle><type value="collection"/><entry><resource>'
        '<ConceptMap><url value="http://m"/></ConceptMap></resource></entry></Bundle></resource></parameter>'
        '</Parameters>'))
    first, second = out["parameter"]
    assert first["resource"] == {"resourceType": "CodeSystem", "url": "http://c",
                                 "contained": [{"resourceType": "ValueSet", "id": "v"}]}
    assert second["resource"]["entry"][0]["resource"] == {"resourceType": "ConceptMap", "url": "http://m"}


def test_choice_elements_keep_their_typed_names() -> None:
    out = from_xml(xml(f'<Parameters {NS}><parameter><name value="n"/><valueCoding><system value="http://s"/>'
                       '<code value="c"/></valueCoding></parameter><parameter><name value="i"/>'
                       '<valueInteger value="5"/></parameter></Parameters>'))
    assert out["parameter"][0]["valueCoding"] == {"system": "http://s", "code": "c"}
    assert out["parameter"][1]["valueInteger"] == 5


def test_positions_map_element_paths_to_lines() -> None:
    lines: dict[str, int] = {}
    from_xml(xml(f'<CodeSystem {NS}>\n<concept>\n<code value="a"/>\n</concept>\n<concept>\n'
                 '<code value="b"/>\n</concept>\n</CodeSystem>'), positions=lines)
    assert lines["CodeSystem.concept[1].code"] == 6
    assert lines["CodeSystem.concept[0]"] == 2


# ---- round trips ----

def test_sample_xml_reads_as_the_sample_json() -> None:
    json_form = json.loads((SAMPLES / "fhir" / "CodeSystem-example-colours.json").read_text(encoding="utf-8"))
    xml_form = from_xml((SAMPLES / "fhir" / "xml" / "CodeSystem-example-colours.xml").read_bytes())
    assert xml_form == json_form


def _package_terminology(path: Path) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            name = member.name.split("/")[-1]
            if member.isfile() and name.startswith(("CodeSystem-", "ValueSet-", "ConceptMap-")) \
                    and name.endswith(".json") and member.name.count("/") == 1:
                stream = tar.extractfile(member)
                assert stream is not None
                out.append((member.name, json.loads(stream.read())))
    return out


def _canonical_narrative(value: Any) -> Any:
    """Narrative compared as canonical XML: `&quot;` and `"` in XHTML text are the same document."""
    if isinstance(value, dict):
        return {k: etree.tostring(etree.fromstring(v.encode()), method="c14n") if k == "div" and isinstance(v, str)
                else _canonical_narrative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_narrative(v) for v in value]
    return value


def test_every_terminology_resource_of_the_r4b_core_package_round_trips() -> None:
    """Real resources, narratives and extensions included: JSON -> XML (writer) -> JSON (reader)."""
    resources = _package_terminology(shared_path("data", "fhir-packages", "hl7.fhir.r4b.core-4.3.0.tgz"))
    assert len(resources) > 1000
    differing = [name for name, resource in resources
                 if _canonical_narrative(from_xml(to_xml(resource))) != _canonical_narrative(resource)]
    assert differing == []


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                | st.sampled_from("\t\n\r"), min_size=1, max_size=20)
_code = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,8}", fullmatch=True)
_extension = st.fixed_dictionaries({"url": st.just("http://example.org/ext")}, optional={
    "valueString": _text, "valueInteger": st.integers(-2**31, 2**31 - 1), "valueBoolean": st.booleans()})


def _concepts(depth: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    concept = st.fixed_dictionaries({"code": _code}, optional={
        "display": _text,
        "_display": st.fixed_dictionaries({"extension": st.lists(_extension, min_size=1, max_size=2)}),
        "designation": st.lists(st.fixed_dictionaries({"value": _text}, optional={"language": _code}),
                                min_size=1, max_size=2),
        "property": st.lists(st.fixed_dictionaries({"code": _code}, optional={
            "valueDecimal": st.decimals(allow_nan=False, allow_infinity=False, places=3,
                                        min_value=-10**6, max_value=10**6).map(lambda d: float(d))}),
            min_size=1, max_size=2),
        **({"concept": _concepts(depth - 1)} if depth > 0 else {}),
    })
    return st.lists(concept, min_size=1, max_size=3)


code_systems = st.fixed_dictionaries({"resourceType": st.just("CodeSystem"), "url": _text}, optional={
    "id": _code, "version": _text, "caseSensitive": st.booleans(), "count": st.integers(0, 2**31 - 1),
    "extension": st.lists(_extension, min_size=1, max_size=2), "concept": _concepts(2)})


@settings(max_examples=100, deadline=None)
@given(code_systems)
def test_any_code_system_round_trips_through_xml(resource: dict[str, Any]) -> None:
    assert from_xml(to_xml(resource)) == resource


parameters = st.fixed_dictionaries({"resourceType": st.just("Parameters"), "parameter": st.lists(st.one_of(
    st.fixed_dictionaries({"name": _code, "valueString": _text}),
    st.fixed_dictionaries({"name": _code, "valueBoolean": st.booleans()}),
    st.fixed_dictionaries({"name": _code, "valueCoding": st.fixed_dictionaries(
        {"system": _text, "code": _code}, optional={"display": _text})}),
    st.fixed_dictionaries({"name": _code, "resource": code_systems}),
    st.fixed_dictionaries({"name": _code, "part": st.lists(
        st.fixed_dictionaries({"name": _code, "valueUri": _text}), min_size=1, max_size=2)}),
), min_size=1, max_size=4)})


@settings(max_examples=60, deadline=None)
@given(parameters)
def test_any_parameters_round_trips_through_xml(resource: dict[str, Any]) -> None:
    assert from_xml(to_xml(resource)) == resource


# ---- bad input ----

def _error(data: bytes) -> FhirXmlError:
    with pytest.raises(FhirXmlError) as caught:
        from_xml(data)
    return caught.value


def test_malformed_xml_names_the_line() -> None:
    err = _error(f'<CodeSystem {NS}>\n<url value="x"/>\n<concept>\n</CodeSystem>'.encode())
    assert isinstance(err, Invalid)
    assert err.line == 4
    assert "malformed XML" in err.message


def test_truncated_xml_is_invalid() -> None:
    err = _error(f'<CodeSystem {NS}><url value="x"/><conc'.encode())
    assert "malformed XML" in err.message


def test_unknown_element_names_line_and_path() -> None:
    err = _error(f'<CodeSystem {NS}>\n<concept><code value="a"/></concept>\n<concept>\n<colour value="x"/>'
                 '</concept></CodeSystem>'.encode())
    assert err.line == 4
    assert err.path == "CodeSystem.concept[1].colour"
    assert err.expression == ["CodeSystem.concept[1].colour"]


def test_wrong_boolean_is_invalid_with_its_path() -> None:
    err = _error(f'<CodeSystem {NS}><caseSensitive value="yes"/></CodeSystem>'.encode())
    assert err.path == "CodeSystem.caseSensitive"
    assert "'yes' is not a boolean" in err.message


def test_bad_integer_and_decimal_are_invalid() -> None:
    assert "not an integer" in _error(f'<CodeSystem {NS}><count value="1.5"/></CodeSystem>'.encode()).message
    err = _error(f'<CodeSystem {NS}><concept><code value="a"/><property><code value="p"/>'
                 '<valueDecimal value="1,5"/></property></concept></CodeSystem>'.encode())
    assert err.path == "CodeSystem.concept[0].property[0].valueDecimal"


def test_numbers_out_of_range_are_invalid() -> None:
    assert "32-bit" in _error(f'<CodeSystem {NS}><count value="2147483648"/></CodeSystem>'.encode()).message
    err = _error(f'<CodeSystem {NS}><concept><code value="a"/><property><code value="p"/>'
                 '<valueDecimal value="1e999"/></property></concept></CodeSystem>'.encode())
    assert "out of range" in err.message


def test_element_outside_the_fhir_namespace_is_invalid() -> None:
    assert "not in the FHIR namespace" in _error(b'<CodeSystem><url value="x"/></CodeSystem>').message


def test_root_that_is_not_a_resource_is_invalid() -> None:
    assert "not a FHIR R4 resource type" in _error(f'<Coding {NS}><code value="x"/></Coding>'.encode()).message


def test_non_repeating_element_twice_is_invalid() -> None:
    err = _error(f'<CodeSystem {NS}><url value="a"/><url value="b"/></CodeSystem>'.encode())
    assert "more than once" in err.message


def test_text_content_is_invalid() -> None:
    assert "unexpected text" in _error(f'<CodeSystem {NS}><url value="a"/>hello</CodeSystem>'.encode()).message


def test_empty_document_is_invalid() -> None:
    assert "empty" in _error(b"  \n").message


def test_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    data = (f'<?xml version="1.0"?><!DOCTYPE CodeSystem [<!ENTITY x SYSTEM "file://{secret}">]>'
            f'<CodeSystem {NS}><url value="&x;"/></CodeSystem>').encode()
    with pytest.raises(FhirXmlError) as caught:
        from_xml(data)
    assert "TOPSECRET" not in caught.value.message


def test_entity_expansion_bombs_are_refused() -> None:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    data = f'<!DOCTYPE CodeSystem [{entities}]><CodeSystem {NS}><url value="&i;"/></CodeSystem>'.encode()
    with pytest.raises(FhirXmlError):
        from_xml(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_resource_or_invalid(data: bytes) -> None:
    with contextlib.suppress(Invalid):
        from_xml(data)


@settings(max_examples=60, deadline=None)
@given(code_systems, st.data())
def test_any_truncation_of_a_resource_is_invalid(resource: dict[str, Any], data: st.DataObject) -> None:
    whole = to_xml(resource)
    cut = data.draw(st.integers(1, len(whole) - 1))
    with pytest.raises(Invalid):
        from_xml(whole[:cut])


@given(st.text())
def test_any_string_renders_as_well_formed_xml(value: str) -> None:
    # an answer may echo input (an error quoting a parameter): characters XML cannot carry become U+FFFD
    document = to_xml({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "diagnostics": value}]})
    diagnostics = etree.fromstring(document).find(".//{http://hl7.org/fhir}diagnostics")
    assert diagnostics is not None
    kept = diagnostics.get("value") or ""
    assert len(kept) == len(value)  # one character for one: nothing dropped, nothing doubled
