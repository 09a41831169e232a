"""CodeSystem/$validate-code as functions of a Connection and plain values.

`check_coding` validates one (system, code, version, display) and returns a CodingCheck with the issues
the HL7 terminology ecosystem expects (message texts, issue codes, tx-issue-type details, message ids);
ValueSet/$validate-code and batch validation reuse it. `validate_code` and `validate_codeable_concept`
turn checks into the operation's Parameters dict. A request costs a few indexed queries: the code system
row, the concept by (code_system_id, code), and its designations only when a display is to be checked or
chosen by language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from termsvc.errors import Invalid
from termsvc.ops import codesystems as cs_ops
from termsvc.ops import scg
from termsvc.ops import snomed as sct
from termsvc.ops import snomed_expressions as expressions
from termsvc.ops.answers import kept
from termsvc.ops.lookup import find_code, unknown_system_message
from termsvc.ops.outcome import issue
from termsvc.store import queries as q
from termsvc.valuesets.finder import stored_value_set

NO_CODE = ("Unable to find code to validate (looked for coding | codeableConcept | code+system | code+inferSystem in "
           "parameters")


@dataclass(frozen=True)
class Paths:
    """FHIRPath expressions for issues, by how the code was sent (code / coding / codeableConcept)."""

    code: str
    display: str
    system: str
    concept: str

    @staticmethod
    def for_code() -> Paths:
        return Paths("code", "display", "system", "code")

    @staticmethod
    def for_coding(prefix: str = "Coding") -> Paths:
        return Paths(f"{prefix}.code", f"{prefix}.display", f"{prefix}.system", prefix)


@dataclass
class CodingCheck:
    system: str | None
    code: str
    valid: bool = False
    version: str | None = None
    display: str | None = None  # the correct display, in the requested language
    issues: list[dict[str, Any]] = field(default_factory=list)
    inactive: bool | None = None
    status: str | None = None
    normalized_code: str | None = None
    unknown_system: str | None = None
    # in the value set being validated against (set by ValueSet/$validate-code)
    member: bool = False
    # the code is not in a fragment code system: it may still exist in the full system
    unknown_in_fragment: bool = False
    # an abstract (not selectable) code where the request does not allow one
    abstract_refused: bool = False
    # issue texts that are not repeated in `message` (the ecosystem leaves case notes out of it)
    quiet: set[str] = field(default_factory=set)

    def add(self, severity: str, code: str, text: str, path: str, *, message_id: str | None = None,
            details_code: str | None = None, in_message: bool = True) -> None:
        self.issues.append(issue(severity, code, text, expression=[path], message_id=message_id,
                                 details_code=details_code))
        self.issues[-1]["location"] = [path]
        if not in_message:
            self.quiet.add(text)

    def message_texts(self) -> list[str]:
        return [i["details"]["text"] for i in self.issues if i["details"]["text"] not in self.quiet]


def check_coding(conn: Connection, *, system: str | None, code: str | None, version: str | None = None,
                 display: str | None = None, display_language: str | None = None,
                 abstract_allowed: bool = True, paths: Paths | None = None,
                 lenient_display: bool = False, supplements: list[str] | None = None) -> CodingCheck:
    paths = paths or Paths.for_code()
    if not code:
        raise Invalid(NO_CODE)
    check = CodingCheck(system, code)
    if not system:
        check.add("error", "invalid", "Coding has no system. A code with no system has no defined meaning, "
                  "and it cannot be validated. A system should be provided", paths.concept,
                  message_id="Coding_has_no_system__cannot_validate", details_code="invalid-data")
        return check
    url, version = cs_ops.split_canonical(system, version)
    check.system = url
    resolution, concept = find_code(conn, url, version, code)
    cs = resolution.found
    if cs is None:
        if stored_value_set(conn, url, None) is not None:
            check.add("error", "invalid", f"The Coding references a value set, not a code system ('{url}')",
                      paths.system, message_id="Terminology_TX_System_ValueSet2", details_code="invalid-data")
            return check
        if ":" not in url:
            # a system must be a URI with a scheme; a bare name only means something locally
            check.add("error", "invalid", f"{paths.system} must be an absolute reference, not a local reference",
                      paths.system, message_id="Terminology_TX_System_Relative", details_code="invalid-data")
        text_ = unknown_system_message(url, version, resolution.known_versions)
        message_id = "UNKNOWN_CODESYSTEM_VERSION" if version and resolution.known_versions else "UNKNOWN_CODESYSTEM"
        if version and not resolution.known_versions:
            text_ = (f"A definition for CodeSystem '{url}' version '{version}' could not be found, so the code cannot "
                     "be validated. No versions of this code system are known")
            message_id = "UNKNOWN_CODESYSTEM_VERSION_NONE"
        check.add("error", "not-found", text_, paths.system, message_id=message_id, details_code="not-found")
        check.issues[-1].pop("location", None)
        check.unknown_system = f"{url}|{version}" if version and resolution.known_versions else url
        check.version = version
        return check
    if cs.row.content == "supplement":
        # a supplement adds designations and properties to another code system; it defines no codes
        check.add("error", "invalid", f"CodeSystem {cs.url}|{cs.version} is a supplement, so can't be used as a "
                  f"value in {paths.system}", paths.system, message_id="CODESYSTEM_CS_NO_SUPPLEMENT",
                  details_code="invalid-data")
        return check
    check.version = cs.version or None
    if concept is None and sct.is_snomed(cs):
        _snomed_non_concept(conn, check, cs, code)
        return check
    if concept is None:
        _unknown_code(check, cs, code, paths)
        return check
    check.valid = True
    if concept.code != code:
        check.normalized_code = concept.code
        check.add("information", "business-rule",
                  f"The code '{code}' differs from the correct code '{concept.code}' by case. Although the "
                  f"code system '{cs.url}|{cs.version}' is case insensitive, implementers are strongly "
                  "encouraged to use the correct case anyway", paths.code, message_id="CODE_CASE_DIFFERENCE",
                  details_code="code-rule", in_message=False)
    languages = cs_ops.parse_languages(display_language)
    # designations matter only for a display in another language or one that is not the concept's own
    needs_designations = bool(languages) or (display is not None and display != concept.display)
    designations = q.designations(conn, concept.concept_id) if needs_designations else []
    if needs_designations and supplements:
        designations = designations + _supplement_designations(conn, cs.url, concept.code, supplements)
    check.display = cs_ops.display_in(cs, concept, designations, languages)
    if concept.abstract and not abstract_allowed:
        check.valid = False
        check.abstract_refused = True
        check.add("error", "business-rule", f"Code '{cs.url}#{concept.code}' is abstract, and not allowed in "
                  "this context", paths.code, message_id="ABSTRACT_CODE_NOT_ALLOWED", details_code="code-rule")
    _status(check, concept, paths)
    if display is not None:
        _check_display(conn, check, cs, concept, designations, display, languages, paths, lenient_display)
    return check


def _supplement_designations(conn: Connection, url: str, code: str, supplements: list[str]
                            ) -> list[q.DesignationRow]:
    """Designations the supplements in use (url|version) add to the code: they are displays too."""
    out: list[q.DesignationRow] = []
    for canonical in supplements:
        found = cs_ops.resolve(conn, *cs_ops.split_canonical(canonical, None)).found
        if found is None or found.row.content != "supplement":
            continue
        # a supplement of another code system adds nothing to this one
        if str(found.resource.get("supplements") or url).partition("|")[0] != url:
            continue
        extra = q.find_concept(conn, found.id, code)
        if extra is not None:
            out.extend(q.designations(conn, extra.concept_id))
    return out


def _unknown_code(check: CodingCheck, cs: cs_ops.CodeSystemVersion, code: str, paths: Paths) -> None:
    where = f"the CodeSystem '{cs.url}'" + (f" version '{cs.version}'" if cs.version else "")
    if cs.row.content == "fragment":
        # A fragment lists only some codes: a missing one may exist, so this is a warning, not a failure.
        check.valid = True
        check.unknown_in_fragment = True
        check.add("warning", "code-invalid", f"Unknown Code '{code}' in {where} - note that the code system "
                  "is labeled as a fragment, so the code may be valid in some other fragment", paths.code,
                  message_id="UNKNOWN_CODE_IN_FRAGMENT", details_code="invalid-code", in_message=False)
        return
    check.add("error", "code-invalid", f"Unknown code '{code}' in {where}", paths.code,
              message_id="Unknown_Code_in_Version" if cs.version else "Unknown_Code_in",
              details_code="invalid-code")


def _snomed_non_concept(conn: Connection, check: CodingCheck, cs: cs_ops.CodeSystemVersion, code: str) -> None:
    """A SNOMED CT code that is no concept of the edition: a post-coordinated expression, or unknown."""
    checked = expressions.check(conn, cs, code) if scg.is_expression(code) else None
    check.valid, issues, _error = expressions.validation_issues(cs, code, checked)
    check.issues.extend(issues)
    check.quiet.update(str(i["details"]["text"]) for i in issues if i["severity"] != "error")
    if checked is not None and check.valid:
        check.display = checked.display()


def _status(check: CodingCheck, concept: q.ConceptRow, paths: Paths) -> None:
    status = (concept.status or "").strip().lower() or None
    if not concept.active:
        check.inactive = True
        check.status = status or "inactive"
        described = "inactive" if status in (None, "inactive") else f"{status} and inactive"
        check.add("warning", "business-rule", f"The concept '{concept.code}' has a status of {described} and "
                  "its use should be reviewed", paths.concept, message_id="INACTIVE_CONCEPT_FOUND",
                  details_code="code-comment")
    elif status == "deprecated":
        check.status = status
        check.add("warning", "business-rule", f"The concept '{concept.code}' is deprecated and its use should "
                  "be reviewed", paths.code, message_id="DEPRECATED_CONCEPT_FOUND", details_code="code-comment")


DISPLAY_USE_SYSTEMS = ("http://terminology.hl7.org/CodeSystem/designation-usage", "http://snomed.info/sct")


def _is_display(designation: q.DesignationRow) -> bool:
    """A designation in no language of its own with a use of the code system's own making (an old spelling,
    an abbreviation) is another kind of name, not a display to accept or offer."""
    return bool(designation.language) or not designation.use_code or designation.use_system in DISPLAY_USE_SYSTEMS


def _choices(options: list[cs_ops.Display]) -> str:
    shown = [f"'{d.value}'" + (f" ({d.language})" if d.language else "") for d in options]
    if len(shown) == 1:
        return shown[0]
    return f"one of {len(shown)} choices: " + ", ".join(shown[:-1]) + " or " + shown[-1]


def _quoted_list(options: list[cs_ops.Display]) -> str:
    """The displays as the reference server lists them: sorted, comma-separated, quoted unless one word."""
    values = sorted({d.value for d in options})
    return ",".join(v if v.isalnum() else f'"{v}"' for v in values)


def _check_display(conn: Connection, check: CodingCheck, cs: cs_ops.CodeSystemVersion, concept: q.ConceptRow,
                   designations: list[q.DesignationRow], given: str, languages: list[str],
                   paths: Paths, lenient: bool = False) -> None:
    # lenient display validation (a request option) reports a wrong display without failing the code
    severity = "warning" if lenient else "error"
    every = cs_ops.displays(cs, concept, [d for d in designations if _is_display(d)])
    if languages:
        # a display with no language (the code system states none) serves every language
        candidates = [d for d in every
                      if d.language is None or any(cs_ops.language_matches(d.language, w) for w in languages)]
    else:
        candidates = every
    if any(d.value == given for d in candidates):
        return
    if given in q.inactive_designations(conn, concept.concept_id):
        check.add("warning", "invalid", f"'{given}' is no longer considered a correct display for code "
                  f"'{concept.code}' (status = inactive). The correct display is one of "
                  f"{_quoted_list(candidates or every)}.", paths.display, message_id="INACTIVE_DISPLAY_FOUND",
                  details_code="display-comment", in_message=False)
        return
    label = ",".join(languages) or "--"
    ref = f"{cs.url}#{concept.code}"
    squashed = " ".join(given.split())
    if any(" ".join(d.value.split()) == squashed for d in candidates):
        check.valid = check.valid and lenient
        check.add(severity, "invalid", f"Wrong whitespace in Display Name '{given}' for {ref}. Valid display is "
                  f"{_choices(candidates)} (for the language(s) '{label}')", paths.display,
                  message_id="Display_Name_WS_for__should_be_one_of__instead_of", details_code="invalid-display")
        return
    if languages and not candidates:
        if any(d.value == given for d in every):
            check.add("information", "invalid", f"There are no valid display names found for the code {ref} for "
                      f"language(s) '{label}'. The display is '{given}' which is a valid display for the default "
                      "language", paths.display, message_id="NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK",
                      details_code="invalid-display")
            return
        check.valid = check.valid and lenient
        check.add(severity, "invalid", f"Wrong Display Name '{given}' for {ref}. There are no valid display names "
                  f"found for language(s) '{label}'. Default display is '{concept.display or ''}'",
                  paths.display, message_id="NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR",
                  details_code="invalid-display")
        return
    check.valid = check.valid and lenient
    check.add(severity, "invalid", f"Wrong Display Name '{given}' for {ref}. Valid display is "
              f"{_choices(candidates)} (for the language(s) '{label}')", paths.display,
              message_id="Display_Name_for__should_be_one_of__instead_of", details_code="invalid-display")


def to_parameters(checks: list[CodingCheck], *, given_code: str | None = None,
                  codeable_concept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The $validate-code output for one or more checked codings (several for a CodeableConcept)."""
    chosen = next((c for c in checks if c.valid), checks[0])
    result = any(c.valid for c in checks)
    issues = [i for c in checks for i in c.issues]
    texts = [t for c in checks for t in c.message_texts()]
    out: list[dict[str, Any]] = []
    if codeable_concept is not None:
        out.append({"name": "codeableConcept", "valueCodeableConcept": codeable_concept})
    else:
        out.append({"name": "code", "valueCode": given_code or chosen.code})
    if chosen.display is not None:
        out.append({"name": "display", "valueString": chosen.display})
    if chosen.inactive:
        out.append({"name": "inactive", "valueBoolean": True})
    if issues:
        out.append({"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": issues}})
    if texts:
        out.append({"name": "message", "valueString": "; ".join(sorted(texts))})
    if chosen.normalized_code:
        out.append({"name": "normalized-code", "valueCode": chosen.normalized_code})
    out.append({"name": "result", "valueBoolean": result})
    if chosen.status:
        out.append({"name": "status", "valueCode": chosen.status})
    if chosen.system:
        out.append({"name": "system", "valueUri": chosen.system})
    if chosen.version:
        out.append({"name": "version", "valueString": chosen.version})
    for c in checks:
        if c.unknown_system:
            out.append({"name": "x-caused-by-unknown-system", "valueCanonical": c.unknown_system})
    return {"resourceType": "Parameters", "parameter": out}


@kept("validate_code")
def validate_code(conn: Connection, *, url: str | None, code: str | None, version: str | None = None,
                  display: str | None = None, display_language: str | None = None,
                  abstract_allowed: bool = True) -> dict[str, Any]:
    """$validate-code with url + code (+ version, display)."""
    check = check_coding(conn, system=url, code=code, version=version, display=display,
                         display_language=display_language, abstract_allowed=abstract_allowed,
                         paths=Paths.for_code())
    return to_parameters([check], given_code=code)


@kept("validate_coding")
def validate_coding(conn: Connection, coding: dict[str, Any], *, url: str | None = None,
                    version: str | None = None, display_language: str | None = None,
                    abstract_allowed: bool = True) -> dict[str, Any]:
    check = _check_coding_value(conn, coding, url=url, version=version, display_language=display_language,
                                abstract_allowed=abstract_allowed, prefix="Coding")
    return to_parameters([check], given_code=coding.get("code"))


@kept("validate_codeable_concept")
def validate_codeable_concept(conn: Connection, concept: dict[str, Any], *, url: str | None = None,
                              version: str | None = None, display_language: str | None = None,
                              abstract_allowed: bool = True) -> dict[str, Any]:
    """Valid when any coding is (in the code system `url`, when given)."""
    codings = concept.get("coding") or []
    if not isinstance(codings, list) or not codings:
        raise Invalid("The codeableConcept has no coding to validate", expression=["codeableConcept"])
    checks: list[CodingCheck] = []
    for index, coding in enumerate(codings):
        if not isinstance(coding, dict):
            raise Invalid(f"codeableConcept.coding[{index}] is not a Coding",
                          expression=[f"CodeableConcept.coding[{index}]"])
        checks.append(_check_coding_value(conn, coding, url=url, version=version,
                                          display_language=display_language, abstract_allowed=abstract_allowed,
                                          prefix=f"CodeableConcept.coding[{index}]"))
    return to_parameters(checks, codeable_concept=concept)


def _check_coding_value(conn: Connection, coding: dict[str, Any], *, url: str | None, version: str | None,
                        display_language: str | None, abstract_allowed: bool, prefix: str) -> CodingCheck:
    for key in ("system", "code", "version", "display"):
        if key in coding and not isinstance(coding[key], str):
            raise Invalid(f"{prefix}.{key} must be a string", expression=[f"{prefix}.{key}"])
    return check_coding(conn, system=coding.get("system") or url, code=coding.get("code"),
                        version=coding.get("version") or version, display=coding.get("display"),
                        display_language=display_language, abstract_allowed=abstract_allowed,
                        paths=Paths.for_coding(prefix))
