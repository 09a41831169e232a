"""Continuing earlier work: an existing FHIR ConceptMap (JSON) or an OHDSI Usagi export (CSV) brings its local
codes into the project and its mappings in as decisions. A target that is unknown or inactive in the project's
target version is not approved: the code is flagged with the reason, so nothing is silently dropped. A code
with several targets keeps them all: the first as its approval, the others as additional approved targets."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, text

from termsvc.errors import LoadError
from termsvc.workbench import decisions as d
from termsvc.workbench.files import utf8_text
from termsvc.workbench.local_codes import ImportedCode, code_by_value, store_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.targets import TargetVersion, find_target, target_version

USAGI_REQUIRED = ("sourceCode", "sourceName", "mappingStatus", "conceptId", "conceptName")
# Usagi mappingStatus -> our state (UNCHECKED stays pending)
USAGI_STATUS = {"APPROVED": d.APPROVED, "FLAGGED": d.FLAGGED, "IGNORED": d.REJECTED, "INVALID_TARGET": d.FLAGGED}


@dataclass(frozen=True)
class Mapping:
    code: str
    display: str
    count: int
    state: str
    target_code: str | None
    equivalence: str | None
    comment: str | None
    extra: dict[str, str]
    line: int | None = None
    # further targets of an approved code: (target code or name, equivalence, comment)
    also: tuple[tuple[str, str, str | None], ...] = ()


def read_concept_map(path: Path, project: Project) -> list[Mapping]:
    file = str(path)
    try:
        resource = json.loads(utf8_text(path, hint="FHIR JSON must be UTF-8"))
    except json.JSONDecodeError as exc:
        raise LoadError(file, f"not a JSON ConceptMap: {exc.msg}", line=exc.lineno) from None
    if not isinstance(resource, dict) or resource.get("resourceType") != "ConceptMap":
        raise LoadError(file, "expected a ConceptMap resource", field_name="resourceType")
    found: list[Mapping] = []
    for g, group in enumerate(resource.get("group") or []):
        if group.get("source") not in (None, project.local_system) or \
                group.get("target") not in (None, project.target_system):
            continue
        for e, element in enumerate(group.get("element") or []):
            where = f"ConceptMap.group[{g}].element[{e}]"
            if not element.get("code"):
                raise LoadError(file, "element without a code", path=where, field_name="code")
            matched: list[tuple[str, str, str | None]] = []
            unmatched: tuple[str, str | None] = ("unmatched", None)
            for t, target in enumerate(element.get("target") or []):
                equivalence = target.get("equivalence") or ("equivalent" if target.get("code") else "unmatched")
                if equivalence not in d.EQUIVALENCES:
                    raise LoadError(file, f"equivalence {equivalence!r} is not an R4 code",
                                    path=f"{where}.target[{t}]", field_name="equivalence")
                if equivalence not in ("unmatched", "disjoint") and target.get("code") and \
                        all(m[0] != target["code"] for m in matched):  # a repeated target adds nothing
                    matched.append((str(target["code"]), equivalence, target.get("comment")))
                elif t == 0:
                    unmatched = (equivalence, target.get("comment"))
            display = element.get("display") or element["code"]
            if matched:
                (code, equivalence, comment), *others = matched
                found.append(Mapping(element["code"], display, 0, d.APPROVED, code, equivalence, comment, {},
                                     also=tuple(others)))
            else:
                found.append(Mapping(element["code"], display, 0, d.REJECTED, None, unmatched[0], unmatched[1], {}))
    return found


def read_usagi(path: Path) -> list[Mapping]:
    """Usagi writes one row per source code and target concept; the first row of a code is its mapping.
    conceptId is an OMOP concept_id, so the target is found by conceptName in the target version."""
    file = str(path)
    content = utf8_text(path, hint="Usagi writes UTF-8")
    reader = csv.DictReader(io.StringIO(content, newline=""))
    for name in USAGI_REQUIRED:
        if name not in (reader.fieldnames or []):
            raise LoadError(file, f"no column {name!r}: not a Usagi export (columns are: "
                                  f"{', '.join(reader.fieldnames or [])})", line=1, field_name=name)
    found: dict[str, Mapping] = {}
    for row in reader:
        line = reader.line_num
        code, name = (row.get("sourceCode") or "").strip(), (row.get("sourceName") or "").strip()
        if not code or not name:
            raise LoadError(file, "empty source code or name", line=line,
                            field_name="sourceCode" if not code else "sourceName")
        status = (row.get("mappingStatus") or "").strip().upper()
        concept_id = (row.get("conceptId") or "0").strip()
        equivalence = _usagi_equivalence(row)
        state = USAGI_STATUS.get(status, d.PENDING)
        target = (row.get("conceptName") or "").strip() if concept_id not in ("", "0") else None
        if code in found:
            # a further row of the code: one more target of an approved mapping
            earlier = found[code]
            if earlier.state == d.APPROVED and state == d.APPROVED and target:
                found[code] = replace(earlier, also=(*earlier.also, (target, equivalence, None)))
            continue
        if state == d.APPROVED and target is None:
            state, equivalence = d.REJECTED, "unmatched"
        try:
            count = int(float(row.get("sourceFrequency") or 0))
        except ValueError:
            raise LoadError(file, f"sourceFrequency {row.get('sourceFrequency')!r} is not a number", line=line,
                            field_name="sourceFrequency") from None
        extra = {k.removeprefix("ADD_INFO:"): v for k, v in row.items()
                 if k and k.startswith("ADD_INFO:") and v}
        if concept_id not in ("", "0"):
            extra["usagi_concept_id"] = concept_id
        # who decided in Usagi, and when, belongs in the audit trail of the imported decision
        notes = [row.get("comment") or ""]
        if (row.get("statusSetBy") or "").strip():
            notes.append(f"Usagi: {status.lower()} by {row['statusSetBy'].strip()}")
        found[code] = Mapping(code, name, count, state, target, equivalence,
                              "; ".join(n for n in notes if n) or None, extra, line)
    return list(found.values())


def _usagi_equivalence(row: dict[str, str]) -> str:
    # Usagi 1.4 writes EQUAL, EQUIVALENT, WIDER, NARROWER, INEXACT, UNMATCHED or UNREVIEWED
    equivalence = (row.get("equivalence") or "").strip().lower()
    return equivalence if equivalence in d.EQUIVALENCES else "equivalent"


def _target_by_name(conn: Connection, target: TargetVersion, name: str) -> str | None:
    codes = conn.execute(text("SELECT code FROM concept WHERE code_system_id = :cs AND LOWER(display) = :n"),
                         {"cs": target.code_system_id, "n": name.lower()}).scalars().all()
    return str(codes[0]) if len(codes) == 1 else None


def apply(conn: Connection, project: Project, mappings: list[Mapping], reviewer: str, *, by_name: bool) -> int:
    """Adds the codes (keeping counts already known) and records the decisions of each mapped code."""
    store_codes(conn, project, [ImportedCode(m.code, m.display, count=m.count, extra=m.extra) for m in mappings
                                if code_by_value(conn, project, m.code) is None])
    target = target_version(conn, project)
    decided = 0
    for m in mappings:
        if m.state == d.PENDING:
            continue
        stored = code_by_value(conn, project, m.code)
        assert stored is not None
        state, extras = _checked(conn, target, m, by_name)
        now_, now_extras = d.state_at(conn, stored.local_code_id)
        if [_same(s) for s in (now_, *now_extras)] == [_same(s) for s in (state, *extras)]:
            continue  # importing the same map again adds nothing to the log
        d.record(conn, project, stored.local_code_id, reviewer, "import", state, extras)
        decided += 1
    return decided


def _same(state: d.State) -> tuple[str, str | None, str | None]:
    return state.state, state.target_code, state.equivalence


def _checked(conn: Connection, target: TargetVersion, m: Mapping, by_name: bool) -> tuple[d.State, list[d.State]]:
    """The code's decision and additional targets; any target not usable in the target version flags the code
    (keeping the first target) with every reason in the comment."""
    if m.state != d.APPROVED or not m.target_code:
        return d.State(m.state, None, None, m.equivalence if m.state == d.REJECTED else None, m.comment), []
    checked: list[d.State] = []
    problems: list[str] = []
    for wanted, equivalence, comment in ((m.target_code, m.equivalence, m.comment), *m.also):
        code = _target_by_name(conn, target, wanted) if by_name else wanted
        concept = find_target(conn, target, code) if code else None
        if concept is None or not concept.active:
            why = "is not a unique name" if code is None else ("does not exist" if concept is None else "is inactive")
            problems.append(f"imported target {wanted!r} {why} in {target.shown}")
            checked.append(d.State(d.FLAGGED, code, None, equivalence, comment))
        else:
            checked.append(d.State(d.APPROVED, concept.code, concept.display, equivalence, comment))
    first, *others = checked
    if problems:
        return d.State(d.FLAGGED, first.target_code, first.target_display, first.equivalence,
                       "; ".join(problems)), []
    return first, others


def import_map_file(conn: Connection, project: Project, path: Path, reviewer: str) -> int:
    if path.suffix.lower() == ".json":
        return apply(conn, project, read_concept_map(path, project), reviewer, by_name=False)
    return apply(conn, project, read_usagi(path), reviewer, by_name=True)


