"""Resolving a code system url (+ version) to a stored version, and a concept's displays by language.

Shared by $lookup, CodeSystem/$validate-code and (later) ValueSet validation, so the messages the HL7
terminology ecosystem expects are written once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Connection

from termsvc import deadline
from termsvc.store import queries as q
from termsvc.store.versions import names_snomed_edition, version_key


@dataclass(frozen=True)
class CodeSystemVersion:
    """A resolved code system version with what the operations need from its resource."""

    row: q.CodeSystemRow
    language: str | None
    resource: dict[str, Any] = field(repr=False)

    @property
    def id(self) -> int:
        return self.row.code_system_id

    @property
    def url(self) -> str:
        return self.row.url

    @property
    def version(self) -> str:
        return self.row.version

    @property
    def case_sensitive(self) -> bool:
        # FHIR leaves an absent caseSensitive undefined; treating it as sensitive never accepts a wrong code.
        return self.row.case_sensitive is not False


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving a url (+ version): the version found, or what exists instead."""

    found: CodeSystemVersion | None
    known_versions: list[str]


def split_canonical(system: str, version: str | None) -> tuple[str, str | None]:
    """`url|version` canonicals carry the version; an explicit version parameter wins."""
    if "|" in system:
        url, _, embedded = system.partition("|")
        return url, version or embedded or None
    return system, version


def _version_matches(stored: str, wanted: str) -> bool:
    # FHIR allows a partial version ("1.0" for "1.0.2") where the code system's versions are semver-like.
    return stored == wanted or stored.startswith(wanted + ".") or names_snomed_edition(stored, wanted)


def resolve(conn: Connection, url: str, version: str | None = None) -> Resolution:
    """The current version of `url` when no version is given; else the exact version, or the latest
    version it is a prefix of."""
    rows = q.code_system_versions(conn, url)
    chosen = _choose(rows, version)
    return Resolution(_load(chosen) if chosen else None, _known(rows))


def resolve_code(conn: Connection, url: str, version: str | None, code: str
                 ) -> tuple[Resolution, q.ConceptRow | None]:
    """`resolve` and the exact-match concept for `code` in the chosen version, in one query."""
    pairs = q.code_system_versions_with_concept(conn, url, code)
    rows = [row for row, _ in pairs]
    chosen = _choose(rows, version)
    if chosen is None:
        return Resolution(None, _known(rows)), None
    concept = next(c for row, c in pairs if row.code_system_id == chosen.code_system_id)
    return Resolution(_load(chosen), _known(rows)), concept


def _known(rows: list[q.CodeSystemRow]) -> list[str]:
    return sorted((r.version for r in rows), key=version_key)


def _choose(rows: list[q.CodeSystemRow], version: str | None) -> q.CodeSystemRow | None:
    """`rows` come current first."""
    if not rows:
        return None
    if not version:
        return rows[0]
    exact = [r for r in rows if r.version == version]
    if exact:
        return exact[0]
    partial = [r for r in rows if _version_matches(r.version, version)]
    return max(partial, key=lambda r: version_key(r.version)) if partial else None


def load_version(row: q.CodeSystemRow) -> CodeSystemVersion:
    return _load(row)


def _load(row: q.CodeSystemRow) -> CodeSystemVersion:
    resource = orjson.loads(row.resource_json) if row.resource_json else {}
    language = resource.get("language") if isinstance(resource, dict) else None
    return CodeSystemVersion(row, language if isinstance(language, str) else None,
                             resource if isinstance(resource, dict) else {})


def format_versions(versions: list[str]) -> str:
    """'1.0.0 or 1.2.0', 'a, b or c': the list as the ecosystem messages write it."""
    shown = [v for v in versions if v] or ["(none)"]
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


@dataclass(frozen=True)
class Display:
    value: str
    language: str | None
    is_default: bool  # the concept's own display, not a designation


def parse_languages(header: str | None) -> list[str]:
    """Language tags from a displayLanguage value or an Accept-Language header, by preference; '*' dropped."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        if weight > 0:
            weighted.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def language_matches(stored: str | None, wanted: str) -> bool:
    """'de' matches 'de', 'de-CH'; 'de-CH' matches 'de' as well (a general tag serves a regional request)."""
    if stored is None:
        return False
    s, w = stored.lower(), wanted.lower()
    return s == w or s.startswith(w + "-") or w.startswith(s + "-")


def displays(cs: CodeSystemVersion, concept: q.ConceptRow, designations: list[q.DesignationRow]
             ) -> list[Display]:
    """Every display a concept has: its own (in the code system's language) then designations that are
    displays in some language. Designations with a use other than display-like ones still count, as the
    ecosystem's servers accept any designation as a valid display."""
    out: list[Display] = []
    seen: set[tuple[str, str | None]] = set()
    if concept.display:
        out.append(Display(concept.display, cs.language, True))
        seen.add((concept.display, cs.language))
    for d in designations:
        language = d.language or cs.language
        if (d.value, language) in seen:
            continue
        seen.add((d.value, language))
        out.append(Display(d.value, language, False))
    return out


def display_in(cs: CodeSystemVersion, concept: q.ConceptRow, designations: list[q.DesignationRow],
               languages: list[str]) -> str | None:
    """The display to return for the requested languages: a preferred designation in the first language
    that has one, else the concept's own display."""
    for wanted in languages:
        if cs.language is not None and language_matches(cs.language, wanted) and concept.display:
            return concept.display
        candidates = [d for d in designations if language_matches(d.language, wanted)]
        if candidates:
            candidates.sort(key=lambda d: (d.preferred is not True, d.use_code != "preferredForLanguage"))
            return candidates[0].value
    return concept.display


# --- CodeSystem resources as served by read and search -------------------------------------------------

# Above this many concepts a read returns the resource without concepts, tagged SUBSETTED (FHIR search
# and read may return a subset so marked); the concepts stay available through the operations.
FULL_CONCEPTS_LIMIT = 10_000
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
_ID_OK = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def resource_ids(rows: list[q.CodeSystemRow]) -> dict[int, str]:
    """A stable FHIR id per stored version: the resource's own id where it names one version only (the
    current one, when several versions share it), else one derived from url and version."""
    by_id: dict[str, list[q.CodeSystemRow]] = {}
    for row in rows:
        if row.resource_id and _ID_OK.match(row.resource_id):
            by_id.setdefault(row.resource_id, []).append(row)
    out: dict[int, str] = {}
    for rid, group in by_id.items():
        keeper = max(group, key=lambda r: (r.is_current, version_key(r.version), r.code_system_id))
        out[keeper.code_system_id] = rid
    for row in rows:
        if row.code_system_id not in out:
            digest = hashlib.sha256(f"{row.url}|{row.version}".encode()).hexdigest()[:24]
            out[row.code_system_id] = f"cs-{digest}"
    return out



def by_resource_id(conn: Connection, resource_id: str) -> q.CodeSystemRow | None:
    """The stored version a read of CodeSystem/{id} answers with (ids as `resource_ids` gives them)."""
    rows = q.all_code_systems(conn)
    ids = resource_ids(rows)
    return next((row for row in rows if ids[row.code_system_id] == resource_id), None)

def render(conn: Connection, row: q.CodeSystemRow, resource_id: str, *, concepts_limit: int,
           summary: bool = False) -> dict[str, Any]:
    """The stored resource with its id, plus its concepts re-nested from the store when there are at most
    `concepts_limit` of them; otherwise without concepts and tagged SUBSETTED."""
    resource = orjson.loads(row.resource_json) if row.resource_json else {}
    body: dict[str, Any] = {"resourceType": "CodeSystem", "id": resource_id}
    body.update({k: v for k, v in resource.items() if k not in ("resourceType", "id", "concept")})
    if row.concept_count and "count" not in body:
        body["count"] = row.concept_count
    if summary or row.concept_count > concepts_limit:
        if row.concept_count or resource.get("concept"):
            meta = dict(body.get("meta") or {})
            meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
            body["meta"] = meta
        return body
    nested = nested_concepts(conn, row.code_system_id)
    if nested:
        body["concept"] = nested
    return body


def nested_concepts(conn: Connection, code_system_id: int) -> list[dict[str, Any]]:
    """CodeSystem.concept rebuilt from the store: children nested under their first parent; further
    parents (polyhierarchy) kept as `parent` properties, since a concept may appear only once."""
    concepts = q.concepts_of(conn, code_system_id)
    designations = q.designations_of_system(conn, code_system_id)
    properties = q.properties_of_system(conn, code_system_id)
    code_of = {c.concept_id: c.code for c in concepts}
    first_parent: dict[int, int] = {}
    extra_parents: dict[int, list[int]] = {}
    for parent_id, child_id in sorted(q.edges_of_system(conn, code_system_id)):
        if child_id not in first_parent:
            first_parent[child_id] = parent_id
        else:
            extra_parents.setdefault(child_id, []).append(parent_id)
    nodes: dict[int, dict[str, Any]] = {}
    for c in deadline.checked(concepts):
        node: dict[str, Any] = {"code": c.code}
        if c.display is not None:
            node["display"] = c.display
        if c.definition:
            node["definition"] = c.definition
        desigs = [_designation(d) for d in designations.get(c.concept_id, [])]
        if desigs:
            node["designation"] = desigs
        props = [{"code": p.code, **typed_value(p)} for p in properties.get(c.concept_id, [])]
        props += [{"code": "parent", "valueCode": code_of[p]} for p in extra_parents.get(c.concept_id, [])]
        if props:
            node["property"] = props
        nodes[c.concept_id] = node
    roots: list[dict[str, Any]] = []
    for c in concepts:
        parent = first_parent.get(c.concept_id)
        if parent is None or parent not in nodes:
            roots.append(nodes[c.concept_id])
        else:
            nodes[parent].setdefault("concept", []).append(nodes[c.concept_id])
    return roots


def _designation(d: q.DesignationRow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.language:
        out["language"] = d.language
    if d.use_system or d.use_code:
        out["use"] = {k: v for k, v in (("system", d.use_system), ("code", d.use_code),
                                         ("display", d.use_display)) if v}
    out["value"] = d.value
    return out


def typed_value(p: q.PropertyRow) -> dict[str, Any]:
    """The value[x] of a stored property from its lexical form and declared type."""
    kind = p.type
    if kind == "Coding":
        coding: dict[str, Any] = {}
        if p.value_system:
            coding["system"] = p.value_system
        coding["code"] = p.value
        if p.value_display:
            coding["display"] = p.value_display
        return {"valueCoding": coding}
    if kind == "boolean":
        return {"valueBoolean": p.value.strip().lower() == "true"}
    if kind == "integer":
        try:
            return {"valueInteger": int(p.value)}
        except ValueError:
            return {"valueString": p.value}
    if kind == "decimal":
        try:
            number = Decimal(p.value)
        except InvalidOperation:
            return {"valueString": p.value}
        return {"valueDecimal": int(number) if number == number.to_integral_value() and "." not in p.value
                else float(number)}
    if kind == "dateTime":
        return {"valueDateTime": p.value}
    if kind == "code":
        return {"valueCode": p.value}
    return {"valueString": p.value}
