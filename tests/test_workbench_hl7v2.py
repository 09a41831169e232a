"""HL7 v2 reading for the workbench: encoding characters, escapes, repetitions, segment separators, and the
local OBX-3 codes of ORU^R01 messages with their context, counted across messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termsvc.errors import LoadError
from termsvc.workbench.hl7v2 import Encoding, decode, read_messages
from termsvc.workbench.import_hl7 import hl7_files, read_hl7_files
from tests.conftest import shared_path

MSH = "MSH|^~\\&|LIS|LAB|EHR|HOSP|20240101120000||ORU^R01^ORU_R01|1|P|2.5.1"
ORU = "\r".join([
    MSH,
    "PID|1||123^^^HOSP^MR||DOE^JANE",
    "OBR|1|||CHEM7^Basic metabolic panel^L|||20240101||||||||SER&Serum&HL70070",
    "OBX|1|NM|2823-3^Potassium SerPl-sCnc^LN^K^POTASSIUM^L||4.1|mmol/L^millimole per liter^UCUM|3.5-5.1|N|||F",
    "OBX|2|NM|NA^SODIUM^L||140|mmol/L|||||F",
    "OBX|3|NM|2345-7^Glucose^LN||90|mg/dL|||||F",
    "SPM|1|||SER^Serum^HL70487",
]) + "\r"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_msh_fields_are_numbered_with_the_field_separator_as_msh_1() -> None:
    message = next(read_messages(ORU, "m.hl7"))
    assert message.header.raw(1) == "|"
    assert message.header.raw(2) == "^~\\&"
    assert message.type == ("ORU", "R01")


def test_escape_sequences_decode_to_the_message_separators() -> None:
    enc = Encoding()
    assert enc.unescape("A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\") == "A|B^C&D~E\\"
    assert enc.unescape("line\\.br\\two") == "line\ntwo"
    assert enc.unescape("\\X41\\") == "A"


def test_escaped_component_separator_stays_inside_one_component() -> None:
    text = "\r".join([MSH, "OBX|1|NM|X1^Ca\\S\\Mg ratio^L||1|"])
    obx = next(read_messages(text, "m.hl7")).segments[1]
    assert obx.components(3) == ["X1", "Ca^Mg ratio", "L"]


def test_the_message_own_encoding_characters_are_used() -> None:
    text = "MSH#*@!%#LIS#LAB#EHR#HOSP#20240101##ORU*R01#1#P#2.5.1\rOBX#1#NM#K1*POTASSIUM*L@K2*POT*L##4#"
    message = next(read_messages(text, "m.hl7"))
    obx = message.segments[1]
    assert message.type == ("ORU", "R01")
    assert obx.components(3, 0) == ["K1", "POTASSIUM", "L"]
    assert obx.components(3, 1) == ["K2", "POT", "L"]


def test_line_feed_and_crlf_segment_separators_are_accepted() -> None:
    for sep in ("\n", "\r\n"):
        message = next(read_messages(ORU.replace("\r", sep), "m.hl7"))
        assert [s.id for s in message.segments] == ["MSH", "PID", "OBR", "OBX", "OBX", "OBX", "SPM"]


def test_several_messages_in_one_file_are_read_apart() -> None:
    messages = list(read_messages(ORU + ORU, "m.hl7"))
    assert len(messages) == 2


def test_malformed_segment_names_file_line_and_field() -> None:
    text = "\r".join([MSH, "PID|1", "obx|1|NM|X^Y^L"])
    with pytest.raises(LoadError) as caught:
        list(read_messages(text, "bad.hl7"))
    assert caught.value.file == "bad.hl7" and caught.value.line == 3 and caught.value.field_name == "segment id"


def test_segment_before_msh_is_refused() -> None:
    with pytest.raises(LoadError, match="before any MSH") as caught:
        list(read_messages("PID|1||123\r" + ORU, "bad.hl7"))
    assert caught.value.line == 1


def test_bad_encoding_characters_in_msh_2_are_refused() -> None:
    with pytest.raises(LoadError) as caught:
        list(read_messages("MSH|^^\\&|LIS\r", "bad.hl7"))
    assert caught.value.field_name == "MSH-2"


def test_bytes_not_in_the_declared_character_set_name_their_line() -> None:
    data = (MSH + "\rOBX|1|NM|X^Gl\xfccose^L||1|\r").encode("latin-1")
    with pytest.raises(LoadError) as caught:
        decode(data, "latin.hl7")
    assert caught.value.line == 2


def test_msh_18_latin_1_is_honoured() -> None:
    data = (MSH + "||||||8859/1\rOBX|1|NM|X^Gl\xfccose^L||1|\r").encode("latin-1")
    assert "Glücose" in decode(data, "latin.hl7")


def test_dual_coded_obx_gives_the_local_code_with_the_loinc_code_as_hint(tmp_path: Path) -> None:
    codes = {c.code: c for c in read_hl7_files([_write(tmp_path, "a.hl7", ORU)])}
    assert set(codes) == {"K", "NA"}  # the LOINC-only glucose has nothing to map
    assert codes["K"].display == "POTASSIUM"
    assert codes["K"].extra["loinc_hint"] == "2823-3"
    assert codes["K"].units == "mmol/L"
    assert codes["K"].specimen == "Serum"  # SPM-4 text
    assert codes["K"].category == "Basic metabolic panel"


def test_specimen_falls_back_to_obr_15_when_there_is_no_spm(tmp_path: Path) -> None:
    without_spm = ORU.replace("SPM|1|||SER^Serum^HL70487\r", "")
    codes = {c.code: c for c in read_hl7_files([_write(tmp_path, "a.hl7", without_spm)])}
    assert codes["NA"].specimen == "Serum"


def test_codes_are_counted_across_messages_and_files(tmp_path: Path) -> None:
    files = [_write(tmp_path, "a.hl7", ORU + ORU), _write(tmp_path, "b.hl7", ORU.replace("\r", "\n"))]
    codes = {c.code: c for c in read_hl7_files(files)}
    assert codes["K"].count == 3 and codes["NA"].count == 3


def test_non_oru_messages_are_ignored(tmp_path: Path) -> None:
    adt = ORU.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01")
    assert read_hl7_files([_write(tmp_path, "adt.hl7", adt)]) == []


def test_local_code_without_any_text_is_an_error_naming_the_line(tmp_path: Path) -> None:
    text = "\r".join([MSH, "OBR|1", "OBX|1|NM|K^^L||4|"])
    with pytest.raises(LoadError) as caught:
        read_hl7_files([_write(tmp_path, "bad.hl7", text)])
    assert caught.value.line == 3 and caught.value.field_name == "OBX-3"


def test_the_shared_oru_samples_yield_local_codes_with_context() -> None:
    folder = shared_path("data", "hl7v2")
    codes = {c.code: c for c in read_hl7_files(hl7_files(folder))}
    assert len(codes) > 20
    # dual coded: 600-7 (LN) with the lab's own BCEXT (L)
    assert codes["BCEXT"].extra.get("loinc_hint") == "600-7"
    assert all(c.count >= 1 and c.display for c in codes.values())
    assert all(not c.code.endswith("^") for c in codes.values())


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)


def _escape(value: str, enc: Encoding) -> str:
    out = value.replace(enc.escape, f"{enc.escape}E{enc.escape}")
    for char, name in ((enc.field, "F"), (enc.component, "S"), (enc.subcomponent, "T"), (enc.repetition, "R")):
        out = out.replace(char, f"{enc.escape}{name}{enc.escape}")
    return out


@given(_TEXT, _TEXT)
def test_escaped_values_come_back_unchanged_from_a_component(code: str, name: str) -> None:
    enc = Encoding()
    text = "\r".join([MSH, f"OBX|1|NM|{_escape(code, enc)}^{_escape(name, enc)}^L||1|"])
    obx = next(read_messages(text, "m.hl7")).segments[1]
    assert obx.components(3)[:2] == [code, name]
