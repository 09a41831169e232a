"""Post-coordinated SNOMED CT expressions as codes: $lookup, CodeSystem/$validate-code and value set membership.

An expression is valid when it parses (Compositional Grammar, see scg) and its concepts are sound: every concept
it names exists in the edition, focus concepts are active, and every attribute name is an attribute concept
(is-a 410662002 |Concept model attribute| or 106237007 |Linkage concept|). The concept model (MRCM domains and
ranges) is not checked, and a valid expression says so, as tx.fhir.org does. Messages are those of the
HL7 terminology ecosystem suite's snomed mode.

Membership: an expression is in a value set when an include lists it verbatim, or when an include that admits
expressions (one by filter, without `expressions = false`) holds every one of its focus concepts (an expression
is a subtype of its focus concepts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, bindparam, text

from termsvc.ops import codesystems as cs_ops
from termsvc.ops import scg
from termsvc.ops import snomed as sct
from termsvc.ops.outcome import issue
from termsvc.store import queries as q

ATTRIBUTE_ROOTS: Final = ("410662002", "106237007")
NOT_CHECKED_AGAINST_MRCM: Final = ("The expression is grammatically correct and the concepts are valid, but the "
                                   "expression has not been checked against the SNOMED CT concept model (MRCM)")
# the language of the display an expression is given: the loader's default display dialect
DISPLAY_LANGUAGE: Final = "en-US"
PREFERRED_FOR_LANGUAGE: Final = ("http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra", "preferredForLanguage",
                                 "Preferred For Language")
# Edition names the unknown-code message carries (tx.fhir.org's wording); 31000003106 is the test edition of the
# ecosystem suite's snomed mode, a subset of the International Edition
EDITIONS: Final = {"900000000000207008": "International Edition", "31000003106": "International Edition",
                   "731000124108": "US Edition", "83821000000107": "UK Edition",
                   "32506021000036107": "Australian Edition", "20611000087101": "Canadian Edition",
                   "11000146104": "Netherlands Edition", "45991000052106": "Swedish Edition",
                   "554471000005108": "Danish Edition", "11000172109": "Belgian Edition",
                   "21000210109": "New Zealand Edition", "449081005": "Spanish Edition"}


@dataclass
class Concept:
    concept_id: int
    display: str | None
    active: bool


@dataclass
class Checked:
    """An expression checked against one edition: `problem` says why it is not valid."""

    expression: scg.Expression | None
    problem: str | None = None
    concepts: dict[str, Concept] = field(default_factory=dict)

    @property
    def terms(self) -> dict[str, str]:
        return {code: c.display for code, c in self.concepts.items() if c.display}

    def display(self) -> str | None:
        return scg.render(self.expression, self.terms) if self.expression and not self.problem else None


_CONCEPTS = text("SELECT code, concept_id, display, active FROM concept WHERE code_system_id = :cs AND code IN :codes"
                 ).bindparams(bindparam("codes", expanding=True))
_ATTRIBUTE_CONCEPTS = text(
    "SELECT d.code FROM concept d JOIN closure k ON k.descendant_id = d.concept_id JOIN concept a ON "
    "a.concept_id = k.ancestor_id WHERE d.code_system_id = :cs AND a.code_system_id = :cs AND a.code IN :roots "
    "AND d.code IN :codes").bindparams(bindparam("codes", expanding=True), bindparam("roots", expanding=True))


def check(conn: Connection, cs: cs_ops.CodeSystemVersion, code: str) -> Checked:
    try:
        expression = scg.parse(code)
    except scg.ExpressionError as exc:
        return Checked(None, exc.message)
    refs = scg.concepts(expression)
    codes = sorted({r.id for r in refs})
    rows = conn.execute(_CONCEPTS, {"cs": cs.id, "codes": codes}).all()
    found = Checked(expression, None, {r[0]: Concept(int(r[1]), r[2], bool(r[3])) for r in rows})
    missing = next((r.id for r in refs if r.id not in found.concepts), None)
    if missing:
        found.problem = f"Concept {missing} not found"
        return found
    inactive = next((f.id for f in expression.body.focus if not found.concepts[f.id].active), None)
    if inactive:
        found.problem = f"Concept {inactive} is inactive, so cannot be the focus of an expression"
        return found
    names = sorted({a.name.id for a in scg.attributes(expression)})
    valid = {r[0] for r in conn.execute(_ATTRIBUTE_CONCEPTS, {"cs": cs.id, "roots": list(ATTRIBUTE_ROOTS),
                                                               "codes": names})} if names else set()
    wrong = next((a.name.id for a in scg.attributes(expression) if a.name.id not in valid), None)
    if wrong:
        found.problem = (f"Concept {wrong} is not valid in this context (must be a descendent of one of "
                         f"{','.join(ATTRIBUTE_ROOTS)})")
    return found


def edition_name(version: str) -> str | None:
    parts = version.rstrip("/").split("/")
    module = parts[parts.index("version") - 1] if "version" in parts else parts[-1]
    return EDITIONS.get(module) or (f"edition {module}" if module.isdecimal() else None)


def drop_code_system_notes(issues: list[dict[str, Any]]) -> None:
    """The MRCM note belongs to CodeSystem/$validate-code: against a value set the question is membership."""
    issues[:] = [i for i in issues if i.get("details", {}).get("text") != NOT_CHECKED_AGAINST_MRCM]


def unknown_code_issue(cs: cs_ops.CodeSystemVersion, code: str) -> dict[str, Any]:
    """tx.fhir.org's unknown-code issue for SNOMED CT: the edition named, no location."""
    edition = edition_name(cs.version) if cs.version else None
    where = f"the CodeSystem '{cs.url}'" + (f" version '{cs.version}'" if cs.version else "")
    return issue("error", "code-invalid", f"Unknown code '{code}' in {where}" + (f" ({edition})" if edition else ""),
                 expression=["code"], message_id="Unknown_Code_in_Version" if cs.version else "Unknown_Code_in",
                 details_code="invalid-code")


def validation_issues(cs: cs_ops.CodeSystemVersion, code: str, checked: Checked | None
                      ) -> tuple[bool, list[dict[str, Any]], str | None]:
    """(valid, issues, the error text for `message`) for a SNOMED CT code that is no concept of the edition:
    an unknown concept id (`checked` None), or an expression."""
    if checked is not None and checked.problem is None:
        return True, [issue("information", "informational", NOT_CHECKED_AGAINST_MRCM, expression=["code"],
                            details_code="process-note")], None
    unknown = unknown_code_issue(cs, code)
    issues = [unknown]
    if checked is not None:
        issues.append(issue("information", "code-invalid", f"Not a valid expression: {checked.problem}",
                            expression=["code"], details_code="invalid-code"))
    return False, issues, str(unknown["details"]["text"])


def lookup(conn: Connection, cs: cs_ops.CodeSystemVersion, code: str, checked: Checked,
           focus_properties: list[dict[str, Any]]) -> dict[str, Any]:
    """$lookup of a valid expression: its display (the expression with preferred terms), the properties of
    its focus concept(s) and each of its attributes as a property named by the attribute."""
    display = checked.display() or code
    out: list[dict[str, Any]] = [
        {"name": "name", "valueString": sct.lookup_name(cs)},
        *([{"name": "version", "valueString": cs.version}] if cs.version else []),
        {"name": "display", "valueString": display},
        {"name": "code", "valueCode": code},
        {"name": "system", "valueUri": cs.url},
        {"name": "abstract", "valueBoolean": False},
        {"name": "designation", "part": [
            {"name": "language", "valueCode": DISPLAY_LANGUAGE},
            {"name": "use", "valueCoding": dict(zip(("system", "code", "display"), PREFERRED_FOR_LANGUAGE,
                                                    strict=True))},
            {"name": "value", "valueString": display}]},
        *focus_properties]
    assert checked.expression is not None
    terms = checked.terms
    for attribute in scg.attributes(checked.expression):
        out.append(_attribute_property(attribute, terms))
    return {"resourceType": "Parameters", "parameter": out}


def _attribute_property(attribute: scg.Attribute, terms: dict[str, str]) -> dict[str, Any]:
    value = attribute.value
    name, name_term = attribute.name.id, terms.get(attribute.name.id)
    if isinstance(value, scg.ConceptRef):
        return sct.attribute_property(name, value.id, terms.get(value.id), name_term)
    if isinstance(value, scg.SubExpression):
        shown = scg.render(scg.Expression(None, value), terms)
        return sct.attribute_property(name, shown, None, name_term)
    typed = {"integer": "valueInteger", "decimal": "valueDecimal", "boolean": "valueBoolean"}.get(value.kind)
    literal: Any = value.text
    if value.kind == "integer":
        literal = int(value.text)
    elif value.kind == "decimal":
        literal = float(value.text)
    elif value.kind == "boolean":
        literal = value.text == "true"
    parts: list[dict[str, Any]] = [{"name": "code", "valueCode": name}]
    if name_term:
        parts.append({"name": "code-display", "valueString": name_term})
    parts.append({"name": "value", typed or "valueString": literal})
    return {"name": "property", "part": parts}


def listed_entries(conn: Connection, value_set: dict[str, Any], used: list[q.CodeSystemRow],
                   text_filter: str | None) -> list[dict[str, Any]]:
    """The valid expressions the compose lists for SNOMED CT (and does not exclude), as expansion entries with
    their display (the compose's, else the expression with preferred terms)."""
    snomed = next((row for row in used if row.url == sct.SNOMED), None)
    compose = value_set.get("compose") or {}
    if snomed is None:
        return []
    cs = cs_ops.load_version(snomed)
    excluded = {c.get("code") for e in compose.get("exclude") or [] if isinstance(e, dict)
                and e.get("system") == sct.SNOMED for c in e.get("concept") or [] if isinstance(c, dict)}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for include in compose.get("include") or []:
        if not isinstance(include, dict) or include.get("system") != sct.SNOMED:
            continue
        for entry in include.get("concept") or []:
            code = entry.get("code") if isinstance(entry, dict) else None
            if not isinstance(code, str) or not scg.is_expression(code) or code in excluded or code in seen:
                continue
            seen.add(code)
            checked = check(conn, cs, code)
            display = entry.get("display") or checked.display()
            if checked.problem is None and display and (not text_filter or text_filter.lower() in display.lower()):
                out.append({"system": sct.SNOMED, "code": code, "display": display})
    return out
