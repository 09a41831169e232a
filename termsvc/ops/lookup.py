"""CodeSystem/$lookup as a function of a Connection and plain values, returning a Parameters dict.

Output follows R4 $lookup: name, version, display, definition, designation(s), property(ies); the
hierarchy comes from concept_edge as `parent` / `child` properties, status as `inactive`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from termsvc.concept_extensions import CARRIED_EXTENSIONS, EXTENSION_PROPERTIES
from termsvc.errors import Invalid, NotFound
from termsvc.ops import codesystems as cs_ops
from termsvc.ops import scg
from termsvc.ops import snomed as sct
from termsvc.ops import snomed_expressions as expressions
from termsvc.ops.answers import kept
from termsvc.store import queries as q

# Properties $lookup synthesises from the concept row and the hierarchy, beside the stored ones.
SYNTHETIC = ("inactive", "parent", "child")


def find_code(conn: Connection, url: str, version: str | None, code: str
              ) -> tuple[cs_ops.Resolution, q.ConceptRow | None]:
    """The code system version and the concept for `code`: an exact match, or a case-insensitive one where
    the code system says it is not case sensitive."""
    resolution, concept = cs_ops.resolve_code(conn, url, version, code)
    cs = resolution.found
    if cs is not None and concept is None and not cs.case_sensitive:
        concept = q.find_concept_ignoring_case(conn, cs.id, code)
    return resolution, concept


def unknown_system_message(url: str, version: str | None, known: list[str], action: str = "validated") -> str:
    if version and known:
        return (f"A definition for CodeSystem '{url}' version '{version}' could not be found, so the code "
                f"cannot be {action}. Valid versions: {cs_ops.format_versions(known)}")
    return f"A definition for CodeSystem '{url}' could not be found, so the code cannot be {action}"


@kept("lookup")
def lookup(conn: Connection, *, system: str | None, code: str | None, version: str | None = None,
           properties: list[str] | None = None, display_language: str | None = None,
           use_supplements: list[str] | None = None) -> dict[str, Any]:
    if not system:
        raise Invalid("No system parameter provided: $lookup needs system and code, or a coding",
                      expression=["system"])
    if not code:
        raise Invalid("No code parameter provided: $lookup needs system and code, or a coding",
                      expression=["code"])
    url, version = cs_ops.split_canonical(system, version)
    resolution, concept = find_code(conn, url, version, code)
    cs = resolution.found
    if cs is None:
        raise NotFound(unknown_system_message(url, version, resolution.known_versions, "looked up"),
                       expression=["system"], message_id="UNKNOWN_CODESYSTEM")
    if concept is None and sct.is_snomed(cs) and scg.is_expression(code):
        return _expression(conn, cs, code, _wanted(properties))
    if concept is None:
        where = f"{cs.url} version {cs.version}" if cs.version else cs.url
        raise NotFound(f"Unable to find code '{code}' in {where}", expression=["code"])
    supplements = [_supplement(conn, canonical) for canonical in use_supplements or []]
    wanted = _wanted(properties)
    details = q.concept_details(conn, concept.concept_id)
    designations = details.designations
    languages = cs_ops.parse_languages(display_language)
    snomed = sct.is_snomed(cs)
    name = sct.lookup_name(cs) if snomed else cs.row.name or cs.row.title or cs.url
    out: list[dict[str, Any]] = [{"name": "name", "valueString": name}]
    if cs.version:
        out.append({"name": "version", "valueString": cs.version})
    display = cs_ops.display_in(cs, concept, designations, languages)
    if snomed:
        designations = sct.designations(designations, display)
    if display is not None:
        out.append({"name": "display", "valueString": display})
    out.append({"name": "code", "valueCode": concept.code})
    out.append({"name": "system", "valueUri": cs.url})
    if concept.definition:
        out.append({"name": "definition", "valueString": concept.definition})
    out.append({"name": "abstract", "valueBoolean": concept.abstract})
    for d in designations:
        out.append({"name": "designation", "part": designation_parts(d)})
    if concept.display and cs.language:
        # the display is itself the preferred designation in the code system's language
        out.append({"name": "designation", "part": designation_parts(q.DesignationRow(
            cs.language, PREFERRED_FOR_LANGUAGE[0], PREFERRED_FOR_LANGUAGE[1], PREFERRED_FOR_LANGUAGE[2],
            concept.display, True))})
    out.extend(sct.properties(conn, cs, concept, details, wanted) if snomed else _properties(concept, details, wanted))
    for supplement in supplements:
        canonical = f"{supplement.url}|{supplement.version}" if supplement.version else supplement.url
        extra = q.find_concept(conn, supplement.id, concept.code)
        if extra is not None:
            added = q.concept_details(conn, extra.concept_id)
            for d in added.designations:
                parts = designation_parts(d)
                parts.insert(-1, {"name": "source", "valueCanonical": canonical})
                out.append({"name": "designation", "part": parts})
            for p in added.properties:
                if (wanted is None and p.code not in FROM_EXTENSIONS) or (wanted is not None and p.code in wanted):
                    out.append(_property(p.code, cs_ops.typed_value(p)))
        out.append({"name": "used-supplement", "valueCanonical": canonical})
    return {"resourceType": "Parameters", "parameter": out}


def _expression(conn: Connection, cs: cs_ops.CodeSystemVersion, code: str, wanted: set[str] | None
                ) -> dict[str, Any]:
    """$lookup of a post-coordinated SNOMED CT expression."""
    checked = expressions.check(conn, cs, code)
    if checked.problem is not None or checked.expression is None:
        raise NotFound(f"Unable to find code '{code}' in {cs.url} version {cs.version}: not a valid expression: "
                       f"{checked.problem}", expression=["code"])
    focus: list[dict[str, Any]] = []
    for ref in checked.expression.body.focus:
        concept = q.find_concept(conn, cs.id, ref.id)
        if concept is not None:
            focus.extend(sct.properties(conn, cs, concept, q.concept_details(conn, concept.concept_id), wanted))
    return expressions.lookup(conn, cs, code, checked, focus)


PREFERRED_FOR_LANGUAGE = ("http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra", "preferredForLanguage",
                          "Preferred For Language")


def _supplement(conn: Connection, canonical: str) -> cs_ops.CodeSystemVersion:
    """A code system supplement named by `useSupplement`; asking for one that is not there is an error."""
    url, version = cs_ops.split_canonical(canonical, None)
    found = cs_ops.resolve(conn, url, version).found
    if found is None or found.row.content != "supplement":
        error = NotFound(f"Required supplement not found: {canonical}",
                         message_id="VALUESET_SUPPLEMENT_MISSING")
        error.details_code = "not-found"
        raise error
    return found


FROM_EXTENSIONS = frozenset({code for code, _, _ in EXTENSION_PROPERTIES.values()} | set(CARRIED_EXTENSIONS))


def _wanted(properties: list[str] | None) -> set[str] | None:
    """None means every property (no `property` parameter, or '*')."""
    if not properties:
        return None
    names = {p.strip() for p in properties if p and p.strip()}
    return None if "*" in names or not names else names


def designation_parts(d: q.DesignationRow) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if d.language:
        parts.append({"name": "language", "valueCode": d.language})
    if d.use_system or d.use_code:
        use: dict[str, Any] = {}
        if d.use_system:
            use["system"] = d.use_system
        if d.use_code:
            use["code"] = d.use_code
        if d.use_display:
            use["display"] = d.use_display
        parts.append({"name": "use", "valueCoding": use})
    parts.append({"name": "value", "valueString": d.value})
    return parts


def _properties(concept: q.ConceptRow, details: q.ConceptDetails, wanted: set[str] | None
                ) -> list[dict[str, Any]]:
    stored = details.properties
    stored_codes = {p.code for p in stored}
    out: list[dict[str, Any]] = []

    def include(code: str) -> bool:
        return wanted is None or code in wanted

    if include("inactive") and "inactive" not in stored_codes:
        out.append(_property("inactive", {"valueBoolean": not concept.active}))
    if include("parent") and "parent" not in stored_codes:
        for code, display in details.parents:
            out.append(_property("parent", {"valueCode": code}, display))
    if include("child") and "child" not in stored_codes:
        for code, display in details.children:
            out.append(_property("child", {"valueCode": code}, display))
    for p in stored:
        # concept extensions the loader keeps as properties (order, label, ...) are shown only when asked for
        if include(p.code) and (wanted is not None or p.code not in FROM_EXTENSIONS):
            out.append(_property(p.code, cs_ops.typed_value(p)))
    return out


def _property(code: str, value: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "code", "valueCode": code}]
    if description:
        parts.append({"name": "description", "valueString": description})
    parts.append({"name": "value", **value})
    return {"name": "property", "part": parts}
