"""What $lookup shows for SNOMED CT, per the FHIR SNOMED CT page (hl7.org/fhir/R4/snomedct.html) and, where the
two differ, the HL7 terminology ecosystem suite's snomed-mode expected responses (which follow tx.fhir.org):

- `name` is `system|version` (the edition's version URI);
- designations: one per description, `language` its language (`en`, not the `en-US`/`en-GB` dialect tags the
  language refsets give it), with its use; the display first, then the FSN, then the other terms;
- properties by default: `inactive`, `effectiveTime`, `module` (the concept's moduleId, described), `parent`,
  `child`, and each attribute relationship as a property named by the attribute's concept id, with
  `code-display` (the attribute's term) and `description` (the value's term). Asked for by name:
  `sufficientlyDefined`, `moduleId`, `normalForm` and `normalFormTerse` (the concept's necessary normal form as
  a Compositional Grammar expression, with and without terms: `===` fully defined or `<<<` primitive, its parents
  as focus concepts, its ungrouped attributes, then its relationship groups), refset memberships and historical
  associations, and the rest.

Attribute relationships are told from the other concept-valued properties (association and attribute-value
refsets, also named by concept id) by the concept model: their code is-a 410662002 |Concept model attribute|."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, bindparam, text

from termsvc.ops import codesystems as cs_ops
from termsvc.ops import scg
from termsvc.store import queries as q

SNOMED: Final = "http://snomed.info/sct"
ATTRIBUTE_ROOT: Final = "410662002"
FSN: Final = "900000000000003001"
# shown without being asked for; attribute relationships are added to these
DEFAULT: Final = frozenset({"inactive", "effectiveTime", "module", "parent", "child"})
# names the ecosystem uses for properties the loader stores under the FHIR page's name
ALIASES: Final = {"module": "moduleId"}


def is_snomed(cs: cs_ops.CodeSystemVersion) -> bool:
    return cs.url == SNOMED


def lookup_name(cs: cs_ops.CodeSystemVersion) -> str:
    return f"{cs.url}|{cs.version}" if cs.version else cs.url


def designations(rows: list[q.DesignationRow], display: str | None) -> list[q.DesignationRow]:
    """One per description (language refset rows collapse), language = the description's language."""
    seen: set[tuple[str | None, str | None, str]] = set()
    out: list[q.DesignationRow] = []
    for d in rows:
        language = d.language.split("-")[0].lower() if d.language else None
        key = (language, d.use_code, d.value)
        if key not in seen:
            seen.add(key)
            out.append(q.DesignationRow(language, d.use_system, d.use_code, d.use_display, d.value, None))

    def order(d: q.DesignationRow) -> int:
        return 0 if d.value == display and d.use_code != FSN else 1 if d.use_code == FSN else 2

    return sorted(out, key=order)


_ATTRIBUTES = text(
    "SELECT d.code, d.display FROM concept d JOIN closure k ON k.descendant_id = d.concept_id "
    "JOIN concept a ON a.concept_id = k.ancestor_id WHERE d.code_system_id = :cs AND a.code_system_id = :cs "
    "AND a.code = :root AND d.code IN :codes").bindparams(bindparam("codes", expanding=True))


def attributes(conn: Connection, code_system_id: int, codes: set[str]) -> dict[str, str | None]:
    """Which of `codes` are attribute concepts (is-a 410662002), with their displays."""
    numeric = sorted(c for c in codes if c.isdecimal())
    if not numeric:
        return {}
    rows = conn.execute(_ATTRIBUTES, {"cs": code_system_id, "root": ATTRIBUTE_ROOT, "codes": numeric}).all()
    return {r[0]: r[1] for r in rows}


def _property(code: str, value: dict[str, Any], description: str | None = None,
              code_display: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "code", "valueCode": code}]
    if code_display:
        parts.append({"name": "code-display", "valueString": code_display})
    if description:
        parts.append({"name": "description", "valueString": description})
    parts.append({"name": "value", **value})
    return {"name": "property", "part": parts}


def attribute_property(code: str, value: str, value_display: str | None, code_display: str | None
                       ) -> dict[str, Any]:
    return _property(code, {"valueCode": value}, value_display, code_display)


_RELATIONSHIPS = text("SELECT code, type, value, role_group FROM concept_property WHERE concept_id = :id "
                      "AND role_group IS NOT NULL ORDER BY role_group, concept_property_id")
_CONCRETE_KINDS: Final = {"integer": "integer", "decimal": "decimal", "string": "string", "boolean": "boolean"}


def normal_form(conn: Connection, concept: q.ConceptRow, details: q.ConceptDetails) -> scg.Expression:
    """The concept's necessary normal form from its inferred relationships (groups as the release numbers them)."""
    defined = any(p.code == "sufficientlyDefined" and p.value == "true" for p in details.properties)
    ungrouped: list[scg.Attribute] = []
    groups: dict[int, list[scg.Attribute]] = {}
    for code, kind, value, group in conn.execute(_RELATIONSHIPS, {"id": concept.concept_id}).all():
        target: scg.ConceptRef | scg.Concrete = (
            scg.Concrete(_CONCRETE_KINDS[kind], value) if kind in _CONCRETE_KINDS else scg.ConceptRef(value))
        attribute = scg.Attribute(scg.ConceptRef(code), target)
        (ungrouped if not group else groups.setdefault(int(group), [])).append(attribute)
    focus = tuple(scg.ConceptRef(code) for code, _ in details.parents) or (scg.ConceptRef(concept.code),)
    return scg.Expression("===" if defined else "<<<", scg.SubExpression(
        focus, tuple(ungrouped), tuple(tuple(g) for _, g in sorted(groups.items()))))


def _terms(conn: Connection, code_system_id: int, expression: scg.Expression) -> dict[str, str]:
    codes = sorted({r.id for r in scg.concepts(expression)})
    rows = conn.execute(_DISPLAYS, {"cs": code_system_id, "codes": codes}).all() if codes else []
    return {r[0]: r[1] for r in rows if r[1]}


_DISPLAYS = text("SELECT code, display FROM concept WHERE code_system_id = :cs AND code IN :codes").bindparams(
    bindparam("codes", expanding=True))


def properties(conn: Connection, cs: cs_ops.CodeSystemVersion, concept: q.ConceptRow, details: q.ConceptDetails,
               wanted: set[str] | None) -> list[dict[str, Any]]:
    stored = details.properties
    named = attributes(conn, cs.id, {p.code for p in stored})

    def include(name: str) -> bool:
        return name in DEFAULT or name in named if wanted is None else name in wanted

    out: list[dict[str, Any]] = []
    if include("inactive"):
        out.append(_property("inactive", {"valueBoolean": not concept.active}))
    if include("parent"):
        out.extend(_property("parent", {"valueCode": c}, d) for c, d in details.parents)
    if include("child"):
        out.extend(_property("child", {"valueCode": c}, d) for c, d in details.children)
    if wanted is not None and wanted & {"normalForm", "normalFormTerse"}:
        form = normal_form(conn, concept, details)
        if "normalForm" in wanted:
            out.append(_property("normalForm", {"valueString": scg.render(form, _terms(conn, cs.id, form))}))
        if "normalFormTerse" in wanted:
            out.append(_property("normalFormTerse", {"valueString": scg.render(form, {})}))
    for p in stored:
        if p.code in named:
            if include(p.code):
                out.append(attribute_property(p.code, p.value, p.value_display, named[p.code]))
            continue
        for alias in [a for a, name in ALIASES.items() if name == p.code and include(a)]:
            module = q.find_concept(conn, cs.id, p.value)
            out.append(_property(alias, {"valueCode": p.value}, module.display if module else None))
        if p.code != "inactive" and include(p.code):
            out.append(_property(p.code, cs_ops.typed_value(p), p.value_display))
    return out


UNCLOSED: Final = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed"
UNCLOSED_REASON: Final = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed-reason"
GRAMMAR_REASON: Final = f"The code System '{SNOMED}' has a grammar and so has infinite members"


def _closed_include(include: dict[str, Any]) -> bool:
    """An include listing its codes is closed; one by filter is open to post-coordinated expressions unless a
    filter `expressions = false` rules them out."""
    if include.get("concept"):
        return True
    return any(isinstance(f, dict) and f.get("property") == "expressions" and str(f.get("value")).lower() == "false"
               for f in include.get("filter") or [])


def unclosed(value_set: dict[str, Any]) -> list[dict[str, Any]]:
    """The valueset-unclosed extensions of an expansion whose SNOMED CT includes admit expressions: the codes
    listed are then not all the codes the value set holds (FHIR: "post-coordinated codes are allowed")."""
    compose = value_set.get("compose") or {}
    includes = [i for i in compose.get("include") or [] if isinstance(i, dict) and i.get("system") == SNOMED]
    open_ = [i for i in includes if not _closed_include(i)]
    if not open_:
        return []
    out: list[dict[str, Any]] = [{"url": UNCLOSED, "valueBoolean": True}]
    if any(not i.get("filter") and not i.get("valueSet") for i in open_):
        out.append({"url": UNCLOSED_REASON, "valueString": GRAMMAR_REASON})
    return out


def admits_expressions(value_set: dict[str, Any]) -> bool:
    return bool(unclosed(value_set))
