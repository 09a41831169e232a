"""A ValueSet's `compose` compiled to one SQL condition over a concept alias.

Includes are OR-ed, excludes AND NOT-ed; within an include, the system (a version resolved by the
version rules), its explicit codes, its filters and its imported value sets are AND-ed. Imported value sets
compile recursively into subqueries, so an expansion is one statement whatever the nesting; a value set
that imports itself, directly or not, is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from termsvc.errors import Invalid, NotFound
from termsvc.store import queries as q
from termsvc.valuesets.filters import filter_sql
from termsvc.valuesets.sql import SqlBuilder
from termsvc.valuesets.versions import VersionRules, resolve_system, version_matches

# finds a value set by url and optional version (stored, inline or implicit)
ValueSetFinder = Callable[[Connection, str, str | None], dict[str, Any]]


# concept extensions from the compose that an expansion carries over to `contains`
CARRIED_EXTENSIONS = ("http://hl7.org/fhir/StructureDefinition/valueset-deprecated",
                      "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status")
FILTER_OP_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.compose.include.filter.op"


EXPANSION_PARAMETER = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"


def expansion_parameter(value_set: dict[str, Any], name: str) -> str | None:
    """A default expansion parameter the compose sets (the valueset-expansion-parameter extension)."""
    compose = value_set.get("compose")
    for ext in (compose.get("extension", []) or []) if isinstance(compose, dict) else []:
        if not isinstance(ext, dict) or ext.get("url") != EXPANSION_PARAMETER:
            continue
        parts = {e.get("url"): e for e in ext.get("extension", []) or [] if isinstance(e, dict)}
        if (parts.get("name") or {}).get("valueCode") == name:
            value = next((v for k, v in (parts.get("value") or {}).items() if k.startswith("value")), None)
            return None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return None


@dataclass
class ComposeDisplay:
    display: str | None
    designations: list[dict[str, Any]]
    extensions: list[dict[str, Any]] = field(default_factory=list)


def r5_filter(flt: dict[str, Any]) -> dict[str, Any]:
    """An R4 filter whose op is an R5 one (child-of, descendent-leaf) carries it in an extension on `op`."""
    if flt.get("op"):
        return flt
    for ext in (flt.get("_op") or {}).get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") == FILTER_OP_EXTENSION:
            return {**flt, "op": ext.get("valueCode")}
    return flt


@dataclass
class Compiled:
    condition: str
    params: dict[str, Any]
    used_systems: dict[int, q.CodeSystemRow] = field(default_factory=dict)
    used_value_sets: list[dict[str, Any]] = field(default_factory=list)
    # (code_system_id, code) -> the display and designations the value set gives the code
    compose_displays: dict[tuple[int, str], ComposeDisplay] = field(default_factory=dict)
    enumerated: bool = False
    whole_system: bool = False
    versionless: set[str] = field(default_factory=set)
    unresolved: dict[str, str] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=dict)
    check_failures: dict[str, tuple[str, str]] = field(default_factory=dict)
    # url -> the versions the compose names for it (includes and excludes)
    named_versions: dict[str, set[str]] = field(default_factory=dict)
    # some exclude was applied by code across versions (versionsMatch)
    matched_across_versions: bool = False
    versions_match: bool | None = None


class Compiler:
    def __init__(self, conn: Connection, rules: VersionRules, find_value_set: ValueSetFinder, *,
                 lenient: bool = False, versions_match: bool | None = None) -> None:
        self.conn = conn
        self.rules = rules
        self.find = find_value_set
        # lenient is validation, which asks about one code at a time
        self.sql = SqlBuilder(conn.dialect.name, membership=lenient)
        self.used_systems: dict[int, q.CodeSystemRow] = {}
        # every value set taken part (the top one first), for used-valueset and status warnings
        self.used_value_sets: list[dict[str, Any]] = []
        self._contained: dict[str, dict[str, Any]] = {}
        self.displays: dict[tuple[int, str], ComposeDisplay] = {}
        self._stack: list[str] = []
        # an enumerated value set is shown flat, in its own order, never nested by the hierarchy
        self.enumerated = False
        # some include takes a whole code system (no codes, no filters): a text search over it is shown flat
        self.whole_system = False
        # code systems some include names without a version
        self.versionless: set[str] = set()
        # lenient (validation): an include naming a version that is not stored matches nothing and is
        # recorded here (url -> version) instead of failing the request
        self.lenient = lenient
        self.unresolved: dict[str, str] = {}
        # includes whose version is a wildcard pattern (url -> pattern)
        self.patterns: dict[str, str] = {}
        # lenient: url -> (version used, check-system-version it fails)
        self.check_failures: dict[str, tuple[str, str]] = {}
        self._declared: dict[int, dict[str, str]] = {}
        self.named_versions: dict[str, set[str]] = {}
        # versionsMatch (an expansion parameter): None = not said. Unless false, an exclude naming a version
        # no include of its system uses removes the same codes from the versions the includes do use
        self.versions_match = versions_match
        self.matched_across_versions = False

    def compile(self, value_set: dict[str, Any], alias: str) -> Compiled:
        if self.versions_match is None:
            said = expansion_parameter(value_set, "versionsMatch")
            self.versions_match = None if said is None else said.lower() == "true"
        self._contained = {f"#{r['id']}": r for r in value_set.get("contained", []) or []
                           if isinstance(r, dict) and r.get("resourceType") == "ValueSet" and r.get("id")}
        self.used_value_sets.append(value_set)
        condition = self.value_set(value_set, alias, top=True)
        return Compiled(condition, self.sql.params, self.used_systems, self.used_value_sets, self.displays,
                        self.enumerated, self.whole_system, self.versionless, self.unresolved, self.patterns,
                        self.check_failures, self.named_versions, self.matched_across_versions,
                        self.versions_match)

    def value_set(self, value_set: dict[str, Any], alias: str, *, top: bool = False) -> str:
        key = f"{value_set.get('url', '')}|{value_set.get('version', '')}"
        if key in self._stack:
            chain = " -> ".join([*self._stack, key])
            error = Invalid(f"Circular value set import: {chain}", issue_code="processing",
                            message_id="VALUESET_CIRCULAR_REFERENCE")
            error.details_code = "vs-invalid"
            raise error
        self._stack.append(key)
        try:
            compose = value_set.get("compose")
            if not isinstance(compose, dict):
                if isinstance(value_set.get("expansion"), dict):
                    raise Invalid(f"The value set {value_set.get('url')} has an expansion but no compose; only "
                                  "value sets with a compose can be expanded here", issue_code="not-supported")
                raise Invalid(f"The value set {value_set.get('url')} has no compose", issue_code="invalid")
            includes = [self.include(i, alias, display_from=top, where=f"ValueSet.compose.include[{n}]")
                        for n, i in _distinct(compose.get("include", []) or [])]
            excludes = [self.exclude(e, alias, where=f"ValueSet.compose.exclude[{n}]")
                        for n, e in _distinct(compose.get("exclude", []) or [])]
            condition = any_of(includes)
            if excludes:
                condition = f"({condition} AND NOT {any_of(excludes)})"
            if compose.get("inactive") is False:
                condition = f"({condition} AND {alias}.active)"
            return condition
        finally:
            self._stack.pop()

    def _declared_properties(self, cs: q.CodeSystemRow) -> dict[str, str]:
        if cs.code_system_id not in self._declared:
            self._declared[cs.code_system_id] = q.declared_properties(self.conn, cs.code_system_id)
        return self._declared[cs.code_system_id]

    def exclude(self, exclude: dict[str, Any], alias: str, *, where: str) -> str:
        system, version = exclude.get("system"), exclude.get("version")
        included = {cs.version for cs in self.used_systems.values() if cs.url == system}
        if not (isinstance(system, str) and version and included and str(version) not in included
                and self.versions_match is not False):
            return self.include(exclude, alias, display_from=False, where=where)
        # the exclude's codes, taken from the version it names, leave every version of the system
        self.matched_across_versions = True
        sub = self.sql.alias("x")
        condition = self.include(exclude, sub, display_from=False, where=where)
        return (f"({alias}.code_system_id IN (SELECT code_system_id FROM code_system WHERE url = "
                f"{self.sql.bind(system)}) AND {alias}.code IN (SELECT {sub}.code FROM concept {sub} WHERE {condition}))")

    def _imported(self, url: str, version: str | None) -> dict[str, Any]:
        pinned = None if version else self.rules.value_sets.get(url)
        if not pinned:
            return self.find(self.conn, url, version)
        try:
            return self.find(self.conn, url, pinned)
        except NotFound:
            error = NotFound(f"The value set '{url}' version '{pinned}' (the default-valueset-version for it) "
                             "could not be found", message_id="VS_EXP_IMPORT_UNK_PINNED")
            error.details_code = "not-found"
            raise error from None

    def include(self, include: dict[str, Any], alias: str, *, display_from: bool, where: str) -> str:
        parts: list[str] = []
        system = include.get("system")
        if isinstance(system, str) and system:
            if include.get("version"):
                self.named_versions.setdefault(system, set()).add(str(include["version"]))
            try:
                cs = resolve_system(self.conn, system, include.get("version"), self.rules,
                                    enforce_check=not self.lenient)
                checked = self.rules.check.get(system)
                if self.lenient and checked and not version_matches(cs.version, checked):
                    self.check_failures[system] = (cs.version, checked)
            except NotFound as exc:
                if not self.lenient or exc.message_id != "UNKNOWN_CODESYSTEM_VERSION_EXP":
                    raise
                self.unresolved[system] = str(self.rules.force.get(system) or include.get("version")
                                              or self.rules.default.get(system) or "")
                return "1=0"
            if not include.get("version"):
                self.versionless.add(system)
            elif any(part in ("x", "X", "*") for part in str(include["version"]).split(".")):
                self.patterns[system] = str(include["version"])
            self.used_systems[cs.code_system_id] = cs
            parts.append(f"{alias}.code_system_id = {self.sql.bind(cs.code_system_id)}")
            concepts = [c for c in include.get("concept", []) or [] if isinstance(c, dict) and c.get("code")]
            if concepts:
                self.enumerated = True
                codes = [str(c["code"]) for c in concepts]
                if cs.case_sensitive is False:
                    lowered = [c.lower() for c in codes]
                    parts.append(f"LOWER({alias}.code) IN {self.sql.values(lowered)}")
                else:
                    parts.append(f"{alias}.code IN {self.sql.values(codes)}")
                if display_from:
                    for c in concepts:
                        carried = [e for e in c.get("extension", []) or []
                                   if isinstance(e, dict) and e.get("url") in CARRIED_EXTENSIONS]
                        if c.get("display") or c.get("designation") or carried:
                            self.displays[(cs.code_system_id, str(c["code"]))] = ComposeDisplay(
                                c.get("display"), list(c.get("designation") or []), carried)
            if not concepts and not include.get("filter"):
                self.whole_system = True
            for n, flt in enumerate(include.get("filter", []) or []):
                parts.append(filter_sql(self.conn, self.sql, cs, r5_filter(flt), alias, self._declared_properties(cs),
                                        f"{where}.filter[{n}]"))
        for canonical in include.get("valueSet", []) or []:
            url, _, version = str(canonical).partition("|")
            contained = self._contained.get(url)
            imported = contained or self._imported(url, version or None)
            # a contained value set is part of this one, not a value set used
            self.used_value_sets.append({"compose": {}} if contained else imported)
            sub = self.sql.alias()
            parts.append(f"{alias}.concept_id IN (SELECT {sub}.concept_id FROM concept {sub} WHERE "
                         f"{self.value_set(imported, sub)})")
        if not parts:
            raise Invalid("A value set include needs a system or a valueSet", expression=["ValueSet.compose.include"])
        return "(" + " AND ".join(parts) + ")"


def _distinct(clauses: list[Any]) -> list[tuple[int, Any]]:
    """(index, clause) of each clause not equal to an earlier one: a union is the same without repeats, and a
    compose of 200 identical includes must cost what one does."""
    seen: set[bytes] = set()
    kept: list[tuple[int, Any]] = []
    for index, clause in enumerate(clauses):
        key = orjson.dumps(clause, option=orjson.OPT_SORT_KEYS)
        if key not in seen:
            seen.add(key)
            kept.append((index, clause))
    return kept


def any_of(conditions: list[str]) -> str:
    """The OR of `conditions` as a balanced tree: a flat chain of n ORs is an expression n deep, and SQLite
    refuses one deeper than 1000 (a value set of 1,000 includes)."""
    if not conditions:
        return "(1=0)"
    if len(conditions) == 1:
        return f"({conditions[0]})"
    middle = len(conditions) // 2
    return f"({any_of(conditions[:middle])} OR {any_of(conditions[middle:])})"
