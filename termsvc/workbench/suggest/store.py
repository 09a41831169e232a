"""Read a target code system's concepts, English designations and ranking properties from the store with plain
SQL, as Candidates. version None means the current version."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, text

from termsvc.errors import NotFound
from termsvc.workbench.suggest.model import Candidate
from termsvc.workbench.suggest.ranker import TargetIndex

# properties the ranker reads; axis Codings are read by their display (LOINC's abbreviation, e.g. MCnc)
RANKING_PROPERTIES = ("PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "CLASS", "COMMON_TEST_RANK",
                      "STATUS", "TTY", "MAP_TO", "remapped_to")
_REPLACEMENTS = ("MAP_TO", "remapped_to")
# LOINC keeps parts, answers and answer lists in the same code system as its terms: they are never mapping targets
_NOT_TARGETS = ("PartTypeName", "AnswerList", "Answer")
# ... and the nodes of its component hierarchy carry no property at all: LOINC's targets are its terms, whose
# numbers are digits with a check digit (parts are LP..., answers LA..., lists LL...)
_TARGET_CODES = {"http://loinc.org": re.compile(r"^\d{1,7}-\d$")}

_VERSION = text("SELECT code_system_id, version FROM code_system WHERE url = :url AND version = :version")
_CURRENT = text("SELECT code_system_id, version FROM code_system WHERE url = :url "
                "ORDER BY is_current DESC, version DESC")
_CONCEPTS = text("SELECT concept_id, code, display, active FROM concept WHERE code_system_id = :cs "
                 "AND abstract = :no ORDER BY concept_id")
_NAMES = text("SELECT d.concept_id, d.value FROM designation d JOIN concept c ON c.concept_id = d.concept_id "
              "WHERE c.code_system_id = :cs AND (d.language IS NULL OR d.language LIKE 'en%') "
              "ORDER BY d.concept_id, d.designation_id")
_PROPERTIES = text("SELECT concept_id, code, type, value, value_display FROM concept_property "
                   "WHERE code_system_id = :cs AND code IN ('" + "', '".join(RANKING_PROPERTIES + _NOT_TARGETS) + "') "
                   "ORDER BY concept_id, concept_property_id")


def code_system_id(conn: Connection, system: str, version: str | None) -> int:
    if version is None:
        row = conn.execute(_CURRENT, {"url": system}).first()
    else:
        row = conn.execute(_VERSION, {"url": system, "version": version}).first()
    if row is None:
        named = system if version is None else f"{system} version {version}"
        raise NotFound(f"code system {named} is not loaded")
    return int(row[0])


def read_candidates(conn: Connection, system: str, version: str | None) -> list[Candidate]:
    cs = code_system_id(conn, system, version)
    names: defaultdict[int, list[str]] = defaultdict(list)
    for concept_id, value in conn.execute(_NAMES, {"cs": cs}):
        names[concept_id].append(value)
    props: defaultdict[int, defaultdict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for concept_id, code, kind, value, value_display in conn.execute(_PROPERTIES, {"cs": cs}):
        # an axis given as a part Coding is read by its name (MCnc), a replacement by its code
        shown = value_display if kind == "Coding" and code not in _REPLACEMENTS and value_display else value
        props[concept_id][code].append(shown)
    out: list[Candidate] = []
    wanted = _TARGET_CODES.get(system)
    for concept_id, code, display, active in conn.execute(_CONCEPTS, {"cs": cs, "no": False}):
        if wanted is not None and not wanted.match(code):
            continue
        mine: dict[str, list[str]] = props.get(concept_id, {})
        if any(key in mine for key in _NOT_TARGETS):
            continue
        replaced = tuple(v for key in _REPLACEMENTS for v in mine.get(key, ()))
        shown = display or next(iter(names.get(concept_id, ())), code)
        out.append(Candidate(code, shown, tuple(n for n in names.get(concept_id, ()) if n != shown),
                             {key: tuple(values) for key, values in mine.items()}, bool(active), replaced))
    return out


def build_index(conn: Connection, system: str, version: str | None, *,
                local_names: Sequence[str] = ()) -> TargetIndex:
    """An index over a loaded code system (version None: the current one), with the project's local names in its
    n-gram statistics."""
    return TargetIndex(read_candidates(conn, system, version), local_names=local_names,
                       drug="rxnorm" in system.lower() or None)
