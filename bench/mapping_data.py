"""The development gold sets of ../shared/data/mapping-dev read as (local term, gold code, source) items, and the
LOINC candidate pool they are scored against. Shared by bench/mapping_eval.py and bench/train_suggest_model.py.

- LIVD (cdc_livd): CDC LIVD vendor analyte name + vendor specimen + result description + device model (the context
  a lab has) -> Test Performed LOINC code; one item per distinct (analyte, specimen, results, model, code) row.
- LabCorp (labcorp): a reference lab's result name, units and order name (as the category) -> result LOINC.
- HL7 v2 (hl7v2): other laboratories' own mappings in the ORU messages of ../shared/data/hl7v2, read by the
  workbench's HL7 v2 importer: a dual-coded OBX-3 names a local code and the LOINC code its sender chose. Never
  scored (33 local codes); one more corpus and training source, as any site's imported mappings would be.
- Pool: every LOINC term with a name anywhere in ../shared/data (the LOINC subset's Loinc.csv with all its
  columns, both LIVD tables, LOINC codings in the FHIR packages, OBX-3 LN codes in the HL7 v2 messages). Most
  codes carry only a long common name there; the engine reads their axes from it."""

from __future__ import annotations

import csv
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termsvc.workbench.suggest import Candidate, LocalTerm
from termsvc.workbench.suggest.vocabulary import split_long_name

LOINC = "http://loinc.org"
_TERM = re.compile(r"^\d{1,7}-\d$")
_LOINC_AXES = ("COMPONENT", "PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "CLASS",
               "COMMON_TEST_RANK", "STATUS")
_LOINC_NAMES = ("SHORTNAME", "DisplayName", "CONSUMER_NAME", "RELATEDNAMES2")
SOURCES = ("livd", "labcorp")  # the sets scored; all_items also has the HL7 v2 senders' mappings


@dataclass(frozen=True)
class Item:
    term: LocalTerm
    gold: str
    source: str


def default_data() -> Path:
    here = Path(__file__).resolve().parents[2] / "shared/data"
    return here if here.exists() else Path("/work/shared/data")


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def _walk_codings(node: Any, system: str | None = None) -> Iterator[tuple[str, str]]:
    """(code, display) of every LOINC coding or ValueSet concept in a FHIR resource."""
    if isinstance(node, dict):
        here = node.get("system", system)
        if here == LOINC and isinstance(node.get("code"), str) and isinstance(node.get("display"), str):
            yield node["code"], node["display"]
        for key, value in node.items():
            yield from _walk_codings(value, here if key in {"concept", "contains"} else None)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_codings(item, system)


def _package_names(data: Path) -> Iterator[tuple[str, str]]:
    for package in sorted(data.glob("fhir-packages/*.tgz")):
        with tarfile.open(package) as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                try:
                    resource = json.load(handle)
                except ValueError:
                    continue
                yield from _walk_codings(resource)


def _add_name(names: dict[str, list[str]], code: str, name: str) -> None:
    seen = names.setdefault(code, [])
    if name.strip() and name.strip().lower() not in {n.lower() for n in seen}:
        seen.append(name.strip())


def loinc_pool(data: Path) -> list[Candidate]:
    """Every LOINC term with a name in the data: the LOINC table's terms with all their columns, then each other
    code with the first name seen as its display and the names of other LOINC versions (LIVD tables, packages) as
    its synonyms. A message's OBX-3 text is its sender's, not LOINC's: it names only a code nothing else names."""
    names: dict[str, list[str]] = {}
    rich: dict[str, Candidate] = {}
    for table in sorted(data.glob("loinc/**/Loinc.csv")):
        for row in _csv_rows(table):
            code, display = row["LOINC_NUM"], row.get("LONG_COMMON_NAME", "")
            props = {k: (row[k],) for k in _LOINC_AXES if row.get(k)}
            designations = tuple(row[k] for k in _LOINC_NAMES if row.get(k))
            rich[code] = Candidate(code, display, designations, props, row.get("STATUS", "") != "DEPRECATED")
    for livd in sorted(data.glob("**/LIVD-SARS-CoV-2.csv")):
        for row in _csv_rows(livd):
            for code_col, name_col in (("Test Performed LOINC Code", "Test Performed LOINC Long Name"),
                                       ("Test Ordered LOINC Code", "Test Ordered LOINC Long Name")):
                code, name = row.get(code_col, "").strip(), row.get(name_col, "").strip()
                if _TERM.match(code) and name:
                    _add_name(names, code, name)
    for code, display in _package_names(data):
        if _TERM.match(code):
            _add_name(names, code, display)
    for message in sorted(data.glob("hl7v2/**/*.hl7")):
        text = message.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"(?:^|\r|\n)OBX\|[^|]*\|[^|]*\|([^|^]+)\^([^|^]+)\^LN", text):
            if _TERM.match(match.group(1)) and match.group(1) not in names:  # a sender's text: no synonym
                names[match.group(1)] = [match.group(2)]
    pool = dict(rich)
    for code, seen in names.items():
        if code not in pool:  # the first name seen is the display; names of other LOINC versions are synonyms
            pool[code] = Candidate(code, seen[0], tuple(seen[1:]))
    return list(pool.values())


def _clean_specimen(text: str) -> str:
    """A vendor's text with the SNOMED CT codings it appended, "(258500001^Nasopharyngeal swab^SCT)", read as
    their display text: what a lab's specimen column would say."""
    return re.sub(r"\([^)^]*\^([^)^]*)\^[^)]*\)", r" \1 ", text)


def livd_items(data: Path) -> list[Item]:
    seen: set[tuple[str, ...]] = set()
    out: list[Item] = []
    for row in _csv_rows(data / "mapping-dev/cdc_livd/LIVD-SARS-CoV-2.csv"):
        name, gold = row["Vendor Analyte Name"].strip(), row["Test Performed LOINC Code"].strip()
        if not name or not _TERM.match(gold):
            continue
        key = (name, row["Vendor Specimen Description"], row["Vendor Result Description"], row["Model"], gold)
        if key in seen:
            continue
        seen.add(key)
        term = LocalTerm(name, name, specimen=_clean_specimen(row["Vendor Specimen Description"]),
                         extra={"result": _clean_specimen(row["Vendor Result Description"]), "device": row["Model"]})
        out.append(Item(term, gold, "livd"))
    return out


def labcorp_items(data: Path) -> list[Item]:
    out: list[Item] = []
    for row in _csv_rows(data / "mapping-dev/labcorp/labcorp_results_loinc.csv"):
        gold = row["loinc"].strip()
        if not _TERM.match(gold):
            continue
        term = LocalTerm(row["result_code"], row["result_name"].strip(), units=row["units"].strip() or None,
                         category=row["order_name"].strip() or None)
        out.append(Item(term, gold, "labcorp"))
    return out


def hl7v2_items(data: Path) -> list[Item]:
    from termsvc.workbench.import_hl7 import hl7_files, read_hl7_files

    out: list[Item] = []
    for code in read_hl7_files(hl7_files(data / "hl7v2")):
        gold = code.extra.get("loinc_hint", "")
        if _TERM.match(gold):
            term = LocalTerm(code.code, code.display, units=code.units, specimen=code.specimen,
                             category=code.category)
            out.append(Item(term, gold, "hl7v2"))
    return out


def all_items(data: Path) -> dict[str, list[Item]]:
    return {"livd": livd_items(data), "labcorp": labcorp_items(data), "hl7v2": hl7v2_items(data)}


# Specimen groups for the per-group figures, by the words of the gold term's system (its SYSTEM value or the
# system phrase of its long name); first match wins.
_GROUPS = (("csf", ("csf", "cerebral spinal")), ("serum/plasma", ("ser", "plas", "serum", "plasma")),
           ("urine", ("urine", "ur ")), ("blood", ("bld", "blood")), ("stool", ("stool",)),
           ("respiratory", ("respir", "nasophar", "nph", "nose", "throat", "sputum", "saliva", "bal", "bronch")),
           ("other fluid", ("fluid", "fld", "marrow")))


def specimen_group(candidate: Candidate) -> str:
    _, _, phrase, _, _ = split_long_name(candidate.display)
    text = f" {(candidate.first('SYSTEM') or '')} {phrase or ''} ".lower()
    for group, words in _GROUPS:
        if any(w in text for w in words):
            return group
    return "other/unstated"
