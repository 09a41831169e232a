"""ValueSet/$validate-code: is a code, Coding or CodeableConcept in the value set?

Each coding is first checked against its code system by `termsvc.ops.validate_code.check_coding` (the
code system owner's messages: unknown code, display, status); membership is then one indexed probe of the
value set's compiled SQL condition for that concept. The result and messages follow the HL7 terminology
ecosystem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotFound
from termsvc.ops import scg
from termsvc.ops import snomed as sct
from termsvc.ops import snomed_expressions as expressions
from termsvc.ops.answers import kept
from termsvc.ops.expand import compose_parameters, standards_status, value_set_of
from termsvc.ops.lookup import unknown_system_message
from termsvc.ops.outcome import issue
from termsvc.ops.params import OpParams
from termsvc.ops.validate_code import NO_CODE, CodingCheck, Paths, check_coding, to_parameters
from termsvc.store import queries as q
from termsvc.store.versions import version_key
from termsvc.valuesets.compose import Compiled, Compiler
from termsvc.valuesets.ecl.expressions import expression_member
from termsvc.valuesets.finder import find_value_set, stored_value_set
from termsvc.valuesets.supplements import required_supplements, resolve_supplements
from termsvc.valuesets.versions import VersionRules, pick_version, version_matches


def _canonical(value_set: dict[str, Any]) -> str:
    url = value_set.get("url") or "(unidentified)"
    return f"{url}|{value_set['version']}" if value_set.get("version") else str(url)


def _strings(params: OpParams, name: str) -> list[str]:
    return [str(v) for v in params.all(name) if not isinstance(v, dict | list)]


def _member(conn: Connection, compiled: Compiled, url: str, version: str | None, code: str,
            case_insensitive: bool, *, active_only: bool = False) -> bool:
    params = dict(compiled.params)
    params.update({"vurl": url, "vcode": code.lower() if case_insensitive else code})
    code_match = "LOWER(c.code) = :vcode" if case_insensitive else "c.code = :vcode"
    version_match = ""
    if version:
        params["vversion"] = version
        version_match = " AND s.version = :vversion"
    active = " AND c.active" if active_only else ""
    sql = (f"SELECT 1 FROM concept c JOIN code_system s ON s.code_system_id = c.code_system_id WHERE s.url = :vurl"
           f"{version_match} AND {code_match}{active} AND {compiled.condition} LIMIT 1")
    return conn.execute(text(sql), params).first() is not None


def _member_if_active_ignored(conn: Connection, value_set: dict[str, Any], rules: VersionRules, url: str,
                              version: str | None, code: str, case_insensitive: bool) -> bool:
    """Would the code be in the value set if inactive codes were allowed (compose.inactive left out)?"""
    compose = {k: v for k, v in (value_set.get("compose") or {}).items() if k != "inactive"}
    relaxed = Compiler(conn, rules, find_value_set, lenient=True).compile({**value_set, "compose": compose}, "c")
    return _member(conn, relaxed, url, version, code, case_insensitive)


def _deprecated_in_value_set(compiled: Compiled, check: CodingCheck, code: str, value_set: dict[str, Any],
                             paths: Paths) -> None:
    """A value set may mark one of its codes deprecated (valueset-deprecated or standards-status)."""
    for cs_id, cs in compiled.used_systems.items():
        if cs.url != check.system or (check.version and cs.version != check.version):
            continue
        shown = compiled.compose_displays.get((cs_id, check.normalized_code or code))
        for ext in shown.extensions if shown else []:
            value = str(ext.get("valueCode") or ext.get("valueBoolean") or "").lower()
            if value in ("true", "deprecated"):
                text_ = (f"The presence of the concept '{code}' in the system '{cs.url}' in the value set "
                         f"{_canonical(value_set)} is marked with a status of deprecated and its use should be "
                         "reviewed")
                entry = issue("warning", "business-rule", text_, expression=[paths.code],
                              message_id="CONCEPT_DEPRECATED_IN_VALUESET", details_code="code-comment")
                entry["location"] = [paths.code]
                check.issues.append(entry)
                check.quiet.add(text_)
                return


def _takes_whole_system(value_set: dict[str, Any], url: str) -> bool:
    compose = value_set.get("compose") or {}
    return not compose.get("exclude") and any(
        isinstance(i, dict) and i.get("system") == url and not i.get("concept") and not i.get("filter")
        and not i.get("valueSet") for i in compose.get("include", []) or [])


def _known(conn: Connection, url: str, version: str) -> bool:
    return any(r.version == version for r in q.code_system_versions(conn, url))


def _infer_systems(conn: Connection, compiled: Compiled, code: str) -> list[str]:
    """The systems of the value set that have the code: inference works only when there is exactly one."""
    found: list[str] = []
    for cs in compiled.used_systems.values():
        if cs.url not in found and _member(conn, compiled, cs.url, cs.version or None, code, False):
            found.append(cs.url)
    return found


def _version_having(conn: Connection, compiled: Compiled, url: str, code: str, display: Any,
                    language: str | None) -> str | None:
    """A value set including several versions of a system: the newest of them whose part has the code, and
    of those, when a display is given, the newest in which that display is right."""
    versions = sorted({cs.version for cs in compiled.used_systems.values() if cs.url == url and cs.version},
                      key=version_key, reverse=True)
    if len(versions) < 2:
        return None
    having = [v for v in versions if _member(conn, compiled, url, v, code, False)]
    if isinstance(display, str) and len(having) > 1:
        for version in having:
            if check_coding(conn, system=url, code=code, version=version, display=display,
                            display_language=language).valid:
                return version
    return having[0] if having else None


def _version_in_value_set(compiled: Compiled, url: str) -> str | None:
    versions = {cs.version for cs in compiled.used_systems.values() if cs.url == url}
    return versions.pop() if len(versions) == 1 else None


def _include_version(value_set: dict[str, Any], url: str) -> str | None:
    """The version the value set's own include names for a system (None when versionless)."""
    for include in (value_set.get("compose") or {}).get("include", []) or []:
        if isinstance(include, dict) and include.get("system") == url and include.get("version"):
            return str(include["version"])
    return None


def _latest_matching(conn: Connection, url: str, pattern: str | None) -> str | None:
    if not pattern:
        return None
    row = pick_version(q.code_system_versions(conn, url), pattern)
    return row.version if row else None


def _shown(system: str, code: str, version: Any, display: Any) -> str:
    """A coding as the ecosystem's messages show it: system|version#code ('display')."""
    versioned = f"{system}|{version}" if isinstance(version, str) and version else system
    return f"{versioned}#{code}" + (f" ('{display}')" if isinstance(display, str) and display else "")


def _default_language(value_set: dict[str, Any]) -> str | None:
    """The language a value set asks displays in when the request names none: its displayLanguage expansion
    parameter, else the value set's own language."""
    language = compose_parameters(value_set).get("displayLanguage") or value_set.get("language")
    return str(language) if language else None


_LANGUAGE_TAG = re.compile(r"^(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)$")


def _check_display_language(value: str | None) -> None:
    """displayLanguage is a language tag (or a list of them with weights, as Accept-Language)."""
    if value is None:
        return
    tags = [part.partition(";")[0].strip() for part in value.split(",")]
    if not tags or any(not _LANGUAGE_TAG.match(tag) for tag in tags):
        error = Invalid(f"Invalid displayLanguage: '{value}'", issue_code="processing",
                        message_id="INVALID_DISPLAY_NAME")
        error.details_code = "invalid-display"
        raise error


def _codings(params: OpParams) -> tuple[list[tuple[dict[str, Any], Paths]], dict[str, Any] | None, str | None]:
    concept = params.complex("codeableConcept")
    if concept is not None:
        codings = concept.get("coding") or []
        if not isinstance(codings, list) or not codings:
            raise Invalid("The codeableConcept has no coding to validate", expression=["codeableConcept"])
        return ([(c, Paths.for_coding(f"CodeableConcept.coding[{i}]")) for i, c in enumerate(codings)
                 if isinstance(c, dict)], concept, None)
    coding = params.complex("coding")
    if coding is not None:
        return [(coding, Paths.for_coding("Coding"))], None, coding.get("code")
    code = params.string("code")
    if not code:
        raise Invalid(NO_CODE)
    single = {"system": params.string("system"), "code": code, "version": params.string("systemVersion"),
              "display": params.string("display")}
    return [({k: v for k, v in single.items() if v is not None}, Paths.for_code())], None, code


@kept("validate_in_value_set")
def validate_in_value_set(conn: Connection, params: OpParams, instance: dict[str, Any] | None, *,
                          accept_language: str | None) -> dict[str, Any]:
    value_set = value_set_of(conn, params, instance)
    rules = VersionRules.from_lists(_strings(params, "force-system-version"), _strings(params, "system-version"),
                                    _strings(params, "check-system-version"),
                                    _strings(params, "default-valueset-version"))
    try:
        compiled = Compiler(conn, rules, find_value_set, lenient=True).compile(value_set, "c")
    except NotFound as exc:
        return _compile_failed(conn, params, value_set, rules, exc)
    _check_display_language(params.string("displayLanguage"))
    codings, concept, given_code = _codings(params)
    call = _Call(
        conn, value_set, rules, compiled,
        supplements=resolve_supplements(conn, required_supplements(value_set, _strings(params, "useSupplement"))),
        language=params.string("displayLanguage") or accept_language or _default_language(value_set),
        lenient_display=params.boolean("lenient-display-validation", False) is True,
        membership_only=params.boolean("valueset-membership-only", False) is True,
        active_only=params.boolean("activeOnly", False) is True,
        abstract_allowed=params.boolean("abstract", True) is not False,
        infer=params.boolean("inferSystem", False) is True,
        concept=concept)
    checks = [_check_one(call, coding, paths) for coding, paths in codings]
    return _answer(call, checks, given_code)


def _compile_failed(conn: Connection, params: OpParams, value_set: dict[str, Any], rules: VersionRules,
                    exc: NotFound) -> dict[str, Any]:
    """An import or include that cannot be found makes the answer "not valid", not a failed request."""
    if exc.message_id == "VS_EXP_IMPORT_UNK_PINNED":
        exc = _missing_pinned(conn, rules) or exc
    if exc.message_id == "UNKNOWN_CODESYSTEM_EXP":
        answered = _unknown_include_system(conn, params, value_set)
        if answered is not None:
            return answered
    return _failed(exc, params)


@dataclass
class _Call:
    """What every coding of one call is checked against, and what the checks found that the answer needs."""

    conn: Connection
    value_set: dict[str, Any]
    rules: VersionRules
    compiled: Compiled
    supplements: Any
    language: str | None
    lenient_display: bool
    membership_only: bool
    active_only: bool
    abstract_allowed: bool
    infer: bool
    concept: dict[str, Any] | None
    # checks answered from the value set's pinned version rather than the coding's own
    mismatched: list[CodingCheck] = field(default_factory=list)
    unresolved: list[CodingCheck] = field(default_factory=list)


@dataclass
class _Coding:
    """One coding on its way through the rules: the system and version it is checked in."""

    coding: dict[str, Any]
    paths: Paths
    system: str | None
    version: str | None
    pinned: str | None  # the version the value set's include names, unless it is versionless
    mismatch: bool  # the coding names another version than the include's
    member_in: Compiled  # the compiled value set membership is probed in
    inferred_none: bool = False  # inferSystem was asked and no single system has the code
    candidates: list[str] = field(default_factory=list)

    @property
    def code(self) -> Any:
        return self.coding.get("code")

    @property
    def version_path(self) -> str:
        return "version" if self.paths.code == "code" else f"{self.paths.concept}.version"


def _check_one(call: _Call, coding: dict[str, Any], paths: Paths) -> CodingCheck:
    item = _resolve(call, coding, paths)
    check = check_coding(call.conn, system=item.system, code=item.code,
                         version=item.pinned if item.mismatch else item.version,
                         display=coding.get("display"), display_language=call.language,
                         abstract_allowed=call.abstract_allowed, paths=paths,
                         lenient_display=call.lenient_display, supplements=call.supplements)
    expressions.drop_code_system_notes(check.issues)
    for rule in _RULES:
        if rule(call, item, check):
            break
    return check


def _resolve(call: _Call, coding: dict[str, Any], paths: Paths) -> _Coding:
    """The system (inferred if asked) and the version the coding is checked in."""
    conn, compiled, rules = call.conn, call.compiled, call.rules
    system, code = coding.get("system"), coding.get("code")
    inferred_none = False
    candidates: list[str] = []
    if not system and call.infer and isinstance(code, str):
        candidates = _infer_systems(conn, compiled, code)
        system = candidates[0] if len(candidates) == 1 else None
        inferred_none = system is None
    version = coding.get("version") or (_version_in_value_set(compiled, system) if system else None) or (
        rules.default.get(system) if system else None) or (
        # an include naming an unknown version: a version-check parameter still says which version to use
        _latest_matching(conn, system, rules.check.get(system)) if system in compiled.unresolved else None) or (
        _version_having(conn, compiled, system, code, coding.get("display"), call.language)
        if system and isinstance(code, str) else None)
    pinned = _version_in_value_set(compiled, system) if system and system not in compiled.versionless else None
    mismatch = bool(coding.get("version") and pinned and pinned != coding.get("version"))
    pattern = compiled.patterns.get(system) if system else None
    member_in = compiled
    if mismatch and pattern and version_matches(str(coding["version"]), pattern) and _known(
            conn, str(system), str(coding["version"])):
        # the include's wildcard version admits the coding's own version: check membership in that one
        mismatch = False
        forced = VersionRules(force={str(system): str(coding["version"])}, check=rules.check)
        member_in = Compiler(conn, forced, find_value_set, lenient=True).compile(call.value_set, "c")
    return _Coding(coding, paths, system, version, pinned, mismatch, member_in, inferred_none, candidates)


# --- the rules, in the order they apply; a rule that returns True has settled the coding --------------------

Rule = Callable[[_Call, _Coding, CodingCheck], bool]


def _membership_only(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    if call.membership_only and not check.unknown_system:
        # only membership is asked: what the code system says about the code is left out
        check.issues = []
        check.quiet = set()
    return False


def _system_not_inferred(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    if item.inferred_none and isinstance(item.code, str):
        check.issues = [_unable_to_infer(item.code, call.value_set, item.paths, item.candidates)]
    return False


def _include_version_mismatch(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    """VALUESET_VALUE_MISMATCH(_CHANGED), and UNKNOWN_CODESYSTEM_VERSION when the coding's version is unknown."""
    if not (item.mismatch and item.pinned):
        return False
    where, given = item.version_path, str(item.coding["version"])
    included = _include_version(call.value_set, str(item.system)) or ""
    forced_version = call.rules.force.get(str(item.system))
    if forced_version and forced_version != included:
        # a force-system-version parameter replaced the include's version
        entry = issue("error", "invalid", f"The code system '{check.system}' version '{forced_version}' "
                      f"resulting from the version '{included}' in the ValueSet include is different to the "
                      f"one in the value ('{given}')", expression=[where],
                      message_id="VALUESET_VALUE_MISMATCH_CHANGED", details_code="vs-invalid")
    else:
        entry = issue("error", "invalid", f"The code system '{check.system}' version '{item.pinned}' in the "
                      f"ValueSet include is different to the one in the value ('{given}')",
                      expression=[where], message_id="VALUESET_VALUE_MISMATCH", details_code="vs-invalid")
    entry["location"] = [where]
    check.issues.insert(0, entry)
    check.valid = False
    call.mismatched.append(check)
    if not _known(call.conn, str(check.system), given):
        known = sorted((r.version for r in q.code_system_versions(call.conn, str(check.system))), key=version_key)
        unknown = issue("error", "not-found", unknown_system_message(str(check.system), given, known),
                        expression=[item.paths.system], message_id="UNKNOWN_CODESYSTEM_VERSION",
                        details_code="not-found")
        unknown["location"] = [item.paths.system]
        check.issues.insert(1, unknown)
        check.unknown_system = f"{check.system}|{given}"
    return False


def _version_check_failed(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    """VALUESET_VERSION_CHECK: a check-system-version parameter refuses the version in use."""
    failed = item.member_in.check_failures.get(str(check.system)) if check.system else None
    if failed:
        where = item.version_path
        entry = issue("error", "exception", f"The version '{failed[0]}' is not allowed for system '{check.system}': "
                      f"required to be '{failed[1]}' by a version-check parameter", expression=[where],
                      message_id="VALUESET_VERSION_CHECK", details_code="version-error")
        entry["location"] = [where]
        check.issues.insert(0, entry)
        check.valid = False
        call.mismatched.append(check)
    return False


def _no_system(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    code = item.code
    if not check.system and isinstance(code, str) and call.concept is None and not item.inferred_none:
        # without a system the code cannot be in the value set; the missing system itself is a warning here
        for entry in check.issues:
            if entry.get("severity") == "error":
                entry["severity"] = "warning"
        check.issues.insert(0, _not_in_value_set("", code, item.coding.get("display"), call.value_set, item.paths))
    if item.inferred_none and isinstance(code, str):
        check.issues.insert(0, _not_in_value_set("", code, None, call.value_set, item.paths))
    return False


def _include_unresolved(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    """The value set's include names a version of the system that is not known: settled here."""
    if check.system in call.compiled.unresolved and isinstance(item.code, str):
        _unresolved_include(call.conn, check, call.compiled.unresolved[check.system], item.coding.get("version"),
                            item.paths)
        call.mismatched.append(check)
        call.unresolved.append(check)
        return True
    return False


def _default_version_unknown(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    compiled, code = call.compiled, item.code
    in_vs_version = _version_in_value_set(compiled, check.system) if check.system else None
    if (check.unknown_system and item.coding.get("version") and in_vs_version and isinstance(code, str)
            and check.system in compiled.versionless):
        system = str(check.system)
        rule = call.rules.force.get(system) or call.rules.default.get(system) or call.rules.check.get(system)
        _mismatch_default(call.conn, check, in_vs_version, str(item.coding["version"]), code, call.language,
                          item.paths, changed=rule)
        call.mismatched.append(check)
    return False


def _system_outside_value_set(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    code = item.code
    outside = bool(check.unknown_system and check.system and isinstance(code, str)
                   and all(cs.url != check.system for cs in call.compiled.used_systems.values()))
    if outside and call.concept is None and check.system and isinstance(code, str):
        check.issues.insert(0, _not_in_value_set(check.system, code, item.coding.get("display"), call.value_set,
                                                 item.paths, item.coding.get("version")))
    elif outside and isinstance(code, str):
        _not_in_concept(check, code, item.coding, call.value_set, item.paths)
    return False


def _membership(call: _Call, item: _Coding, check: CodingCheck) -> bool:
    """Is the code in the value set: one indexed probe of its compiled condition."""
    code, value_set = item.code, call.value_set
    if check.unknown_in_fragment and check.system and _takes_whole_system(value_set, check.system):
        # the value set takes every code of the system, so any code the fragment may lack belongs to it
        check.member = True
    elif (check.system and not check.unknown_system and isinstance(code, str)
            and not _member(call.conn, item.member_in, check.system, check.version, code,
                            check.normalized_code is not None, active_only=call.active_only)
            and not _expression_member(call, item.member_in, check, code)):
        _not_a_member(call, item, check, code)
    elif check.system and not check.unknown_system and isinstance(code, str):
        check.member = True
        _deprecated_in_value_set(item.member_in, check, code, value_set, item.paths)
        if check.abstract_refused and call.concept is None:
            # a code that may not be chosen here is not a member of the value set for this use
            check.issues.insert(0, _not_in_value_set(check.system, code, item.coding.get("display"), value_set,
                                                     item.paths, item.coding.get("version")))
    return True


def _expression_member(call: _Call, compiled: Compiled, check: CodingCheck, code: str) -> bool:
    """A valid post-coordinated SNOMED CT expression: listed verbatim, or selected by an include open to
    expressions, as a proper descendant of its focus concepts with their attributes and its own (ECL constraints
    and refinements included; see valuesets.ecl.expressions)."""
    if check.system != sct.SNOMED or not check.valid or not scg.is_expression(code):
        return False
    return expression_member(call.conn, compiled, check.version, code)


def _not_a_member(call: _Call, item: _Coding, check: CodingCheck, code: str) -> None:
    system = str(check.system)
    check.valid = False
    if check.inactive and _member_if_active_ignored(call.conn, call.value_set, call.rules, system, check.version,
                                                    code, check.normalized_code is not None):
        # the value set (or activeOnly) leaves inactive codes out: say that is why
        entry = issue("error", "business-rule", f"The concept '{code}' is valid but is not active",
                      expression=[item.paths.code], message_id="STATUS_CODE_WARNING_CODE", details_code="code-rule")
        entry["location"] = [item.paths.code]
        check.issues.insert(0, entry)
    if call.concept is None:
        check.issues.insert(0, _not_in_value_set(system, code, item.coding.get("display"), call.value_set,
                                                 item.paths, item.coding.get("version")))
    else:
        _not_in_concept(check, code, item.coding, call.value_set, item.paths)


_RULES: tuple[Rule, ...] = (
    _membership_only, _system_not_inferred, _include_version_mismatch, _version_check_failed, _no_system,
    _include_unresolved, _default_version_unknown, _system_outside_value_set, _membership,
)


# --- the answer ------------------------------------------------------------------------------------------

def _answer(call: _Call, checks: list[CodingCheck], given_code: str | None) -> dict[str, Any]:
    compiled = call.compiled
    if checks:
        for entry in _status_issues(compiled):
            checks[0].issues.append(entry)
            checks[0].quiet.add(entry["details"]["text"])
    result = to_parameters(checks, given_code=given_code) if call.concept is None else _concept_result(
        checks, call.concept, call.value_set, call.mismatched, call.unresolved)
    used = {cs.url for cs in compiled.used_systems.values()} | set(compiled.unresolved)
    # a bare "inactive" status says no more than the inactive flag; value set answers leave it out
    result["parameter"] = [p for p in result["parameter"]
                           if not (p["name"] == "status" and p.get("valueCode") == "inactive")]
    for parameter in result["parameter"]:
        if parameter["name"] == "issues":
            for entry in parameter["resource"]["issue"]:
                # display and code issues name their place by expression alone in value set validation
                if any(str(e).endswith(("display", ".code")) or e == "code" for e in entry.get("expression", [])):
                    entry.pop("location", None)
        # a system the value set does not use is simply unknown; it did not cause the failure
        if (parameter["name"] == "x-caused-by-unknown-system"
                and str(parameter.get("valueCanonical", "")).partition("|")[0] not in used):
            parameter["name"] = "x-unknown-system"
    return result


def _concept_result(checks: list[CodingCheck], concept: dict[str, Any], value_set: dict[str, Any],
                    mismatched: list[CodingCheck], unresolved: list[CodingCheck]) -> dict[str, Any]:
    # a valid coding answers; else one in the value set (e.g. with a wrong display)
    valid = next((c for c in checks if c.valid and c.member), None) or next((c for c in checks if c.member), None)
    if valid is None and mismatched:
        # the code is known in the value set's version: that version answers, with the mismatch as the error
        answer = to_parameters([mismatched[0]], codeable_concept=concept)
        if mismatched[0] in unresolved:
            # the value set's version of the system is unknown: no code of it can be named
            answer["parameter"] = [p for p in answer["parameter"] if p["name"] != "system"]
        else:
            answer["parameter"].append({"name": "code", "valueCode": mismatched[0].code})
        return answer
    if valid is not None:
        # the valid coding answers, but errors in the other codings still make the result false
        result = to_parameters([valid], codeable_concept=concept)
        kept = [p for p in result["parameter"] if p["name"] not in ("issues", "message", "result")]
        every = [{k: v for k, v in i.items() if k != "location"} for c in checks for i in c.issues]
        texts = sorted(t for c in checks for t in c.message_texts())
        kept.append({"name": "code", "valueCode": valid.normalized_code or valid.code})
        if every:
            kept.append({"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": every}})
        if texts:
            kept.append({"name": "message", "valueString": "; ".join(texts)})
        kept.append({"name": "result", "valueBoolean": not any(i["severity"] == "error" for i in every)})
        result["parameter"] = kept
        return result
    general = issue("error", "code-invalid", f"No valid coding was found for the value set '{_canonical(value_set)}'",
                    message_id="TX_GENERAL_CC_ERROR_MESSAGE", details_code="not-in-vs")
    # the CodeableConcept answer names paths by expression only
    issues = [general] + [{k: v for k, v in i.items() if k != "location"} for c in checks for i in c.issues]
    texts = [general["details"]["text"]] + [t for c in checks for t in c.message_texts()]
    out: list[dict[str, Any]] = [{"name": "codeableConcept", "valueCodeableConcept": concept},
                                 {"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": issues}},
                                 {"name": "message", "valueString": "; ".join(texts)},
                                 {"name": "result", "valueBoolean": False}]
    out.extend({"name": "x-caused-by-unknown-system", "valueCanonical": c.unknown_system}
               for c in checks if c.unknown_system)
    return {"resourceType": "Parameters", "parameter": out}


def _status_issues(compiled: Compiled) -> list[dict[str, Any]]:
    """Information that something the value set uses is withdrawn, deprecated, draft or experimental."""
    found: list[tuple[str, str, str]] = []  # (status, kind, canonical)
    for vs in compiled.used_value_sets:
        status = standards_status(vs)
        if status in ("withdrawn", "deprecated") and vs.get("url"):
            found.append((status, "ValueSet", _canonical(vs)))
    for cs in compiled.used_systems.values():
        resource = orjson.loads(cs.resource_json) if cs.resource_json else {}
        canonical = f"{cs.url}|{cs.version}" if cs.version else cs.url
        status = standards_status(resource)
        if status in ("withdrawn", "deprecated"):
            found.append((status, "CodeSystem", canonical))
        if resource.get("experimental") is True:
            found.append(("experimental", "CodeSystem", canonical))
        if cs.status == "draft":
            found.append(("draft", "CodeSystem", canonical))
    return [issue("information", "business-rule", f"Reference to {status} {kind} {canonical}",
                  message_id=f"MSG_{status.upper()}", details_code="status-check") for status, kind, canonical in found]


def _unresolved_include(conn: Connection, check: CodingCheck, wanted: str, given: Any, paths: Paths) -> None:
    """The value set names a version of the coding's system that is not known: the code cannot be
    validated against it (the coding is still checked against its own version for the display)."""
    url = check.system or ""
    known = sorted((r.version for r in q.code_system_versions(conn, url)), key=version_key)
    entries: list[dict[str, Any]] = []
    if isinstance(given, str) and given and given != wanted:
        where = "version" if paths.code == "code" else f"{paths.concept}.version"
        entries.append(issue("error", "invalid", f"The code system '{url}' version '{wanted}' in the ValueSet include "
                             f"is different to the one in the value ('{given}')", expression=[where],
                             message_id="VALUESET_VALUE_MISMATCH", details_code="vs-invalid"))
        entries[-1]["location"] = [where]
    entries.append(issue("error", "not-found", unknown_system_message(url, wanted, known), expression=[paths.system],
                         message_id="UNKNOWN_CODESYSTEM_VERSION", details_code="not-found"))
    entries[-1]["location"] = [paths.system]
    check.issues = entries + [i for i in check.issues if i["severity"] != "error"]
    check.valid = False
    check.unknown_system = f"{url}|{wanted}"


def _mismatch_default(conn: Connection, check: CodingCheck, in_vs_version: str, given: str, code: str,
                      language: str | None, paths: Paths, *, changed: str | None) -> None:
    """A coding naming an unknown version of a system the value set includes without a version: the
    answer still shows what the value set's version says about the code, with a warning."""
    other = check_coding(conn, system=check.system, code=code, version=in_vs_version, display_language=language,
                         paths=paths)
    check.display = other.display
    check.version = in_vs_version
    where = "version" if paths.code == "code" else f"{paths.concept}.version"
    if changed:
        # a version parameter (force, default or check) chose the version: the difference is an error
        text_ = (f"The code system '{check.system}' version '{changed}' resulting from the version '' in the "
                 f"ValueSet include is different to the one in the value ('{given}')")
        entry = issue("error", "invalid", text_, expression=[where], message_id="VALUESET_VALUE_MISMATCH_CHANGED",
                      details_code="vs-invalid")
        entry["location"] = [where]
        check.issues.insert(0, entry)
        return
    text_ = (f"The code system '{check.system}' version '{in_vs_version}' for the versionless include in the "
             f"ValueSet include is different to the one in the value ('{given}')")
    entry = issue("warning", "invalid", text_, expression=[where], message_id="VALUESET_VALUE_MISMATCH_DEFAULT",
                  details_code="vs-invalid")
    entry["location"] = [where]
    check.issues.append(entry)
    check.quiet.add(text_)


def _unknown_include_system(conn: Connection, params: OpParams, value_set: dict[str, Any]) -> dict[str, Any] | None:
    """The value set includes a code system that is not known: a single code of that system is reported as
    unvalidatable (caused by the unknown system); one of another unknown system is simply not in the value set."""
    missing = [str(i["system"]) for i in (value_set.get("compose") or {}).get("include", []) or []
               if isinstance(i, dict) and i.get("system") and not q.code_system_versions(conn, str(i["system"]))]
    codings, concept, given_code = _codings(params)
    if concept is not None or len(codings) != 1 or not missing:
        return None
    coding, paths = codings[0]
    system, code = coding.get("system"), coding.get("code")
    if not isinstance(system, str) or not isinstance(code, str) or q.code_system_versions(conn, system):
        return None
    check = check_coding(conn, system=system, code=code, version=coding.get("version"), paths=paths)
    for entry in check.issues:
        entry["location"] = entry.get("expression", [])
    result = to_parameters([check], given_code=given_code)
    if system not in missing:
        # the reference server words this case without quotes around the system
        for entry in check.issues:
            entry["details"]["text"] = entry["details"]["text"].replace(f"'{system}'", system)
        check.issues.insert(0, _not_in_value_set(system, code, coding.get("display"), value_set, paths,
                                                 coding.get("version")))
        result = to_parameters([check], given_code=given_code)
        for parameter in result["parameter"]:
            if parameter["name"] == "x-caused-by-unknown-system":
                parameter["name"] = "x-unknown-system"
    return result


def _missing_pinned(conn: Connection, rules: VersionRules) -> NotFound | None:
    """The value set a default-valueset-version names is not known: for validation that is simply a value
    set that cannot be found."""
    for url, version in rules.value_sets.items():
        if stored_value_set(conn, url, version) is None:
            error = NotFound(f"A definition for the value Set '{url}|{version}' could not be found",
                             message_id="Unable_to_resolve_value_Set_")
            error.details_code = "not-found"
            return error
    return None


def _failed(error: NotFound, params: OpParams) -> dict[str, Any]:
    entry = issue("error", error.issue_code, error.message, message_id=error.message_id,
                  details_code=error.details_code)
    concept = params.complex("codeableConcept")
    coding = params.complex("coding")
    code = (coding or {}).get("code") or params.string("code")
    # the answer names what was asked about
    echoed: list[dict[str, Any]] = ([{"name": "codeableConcept", "valueCodeableConcept": concept}] if concept
                                    else [{"name": "code", "valueCode": code}] if isinstance(code, str) and code
                                    else [])
    return {"resourceType": "Parameters", "parameter": [
        *echoed, {"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": [entry]}},
        {"name": "message", "valueString": error.message}, {"name": "result", "valueBoolean": False}]}


def _not_in_concept(check: CodingCheck, code: str, coding: dict[str, Any], value_set: dict[str, Any],
                    paths: Paths) -> None:
    """Within a CodeableConcept a coding outside the value set is only information."""
    shown = _shown(str(check.system), code, coding.get("version"), coding.get("display"))
    entry = issue("information", "code-invalid", f"The provided code '{shown}' was not found in the value set "
                  f"'{_canonical(value_set)}'", expression=[paths.code],
                  message_id="None_of_the_provided_codes_are_in_the_value_set_one", details_code="this-code-not-in-vs")
    entry["location"] = [paths.code]
    check.issues.append(entry)
    check.quiet.add(entry["details"]["text"])


def _unable_to_infer(code: str, value_set: dict[str, Any], paths: Paths, candidates: list[str]) -> dict[str, Any]:
    text_ = f"The System URI could not be determined for the code '{code}' in the ValueSet '{_canonical(value_set)}'"
    message_id = "UNABLE_TO_INFER_CODESYSTEM"
    if len(candidates) > 1:
        text_ += f": value set expansion has multiple matches: [{', '.join(candidates)}]"
        message_id = "Unable_to_resolve_system__value_set_has_multiple_matches"
    entry = issue("error", "not-found", text_, expression=[paths.code], message_id=message_id,
                  details_code="cannot-infer")
    entry["location"] = [paths.code]
    return entry


def _not_in_value_set(system: str, code: str, display: Any, value_set: dict[str, Any], paths: Paths,
                      version: Any = None) -> dict[str, Any]:
    shown = _shown(system, code, version, display)
    entry = issue("error", "code-invalid", f"The provided code '{shown}' was not found in the value set "
                  f"'{_canonical(value_set)}'", expression=[paths.code],
                  message_id="None_of_the_provided_codes_are_in_the_value_set_one", details_code="not-in-vs")
    return entry
