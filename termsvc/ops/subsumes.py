"""CodeSystem/$subsumes (R4): how two codes of one code system relate in its is-a hierarchy.

The answer comes from the closure table (self-rows included, so a code is `equivalent` to itself) in one
statement that finds both concepts and the closure rows between them; the code system is resolved first, as
$lookup does. Plain values in, a Parameters dict out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from termsvc.errors import Invalid, NotFound, NotSupported
from termsvc.ops import codesystems as cs_ops
from termsvc.ops.lookup import unknown_system_message
from termsvc.store import queries as q

# Hierarchies that are not subsumption: a part is not a kind of its whole (CodeSystem.hierarchyMeaning).
NOT_SUBSUMPTION = {"grouped-by", "part-of", "classified-with"}

# Both concepts and the closure rows linking them (either way, and the self-row when they are one concept).
_PAIR = text(
    "WITH pair AS (SELECT concept_id, code FROM concept WHERE code_system_id = :cs AND code IN (:a, :b)) "
    "SELECT p.code, p.concept_id, k.ancestor_id, k.descendant_id FROM pair p "
    "LEFT JOIN closure k ON k.ancestor_id = p.concept_id AND k.descendant_id IN (SELECT concept_id FROM pair)")


@dataclass(frozen=True)
class CodeRef:
    """One side of the question: a code and the system/version it names, if it names one (a Coding)."""

    code: str
    system: str | None = None
    version: str | None = None


def side(code: str | None, coding: dict[str, Any] | None, letter: str) -> CodeRef:
    """codeX or codingX, exactly one of them."""
    if code is not None and coding is not None:
        raise Invalid(f"Provide code{letter} or coding{letter}, not both", expression=[f"coding{letter}"])
    if coding is not None:
        value = coding.get("code")
        system, version = coding.get("system"), coding.get("version")
        for name, item in (("code", value), ("system", system), ("version", version)):
            if item is not None and not isinstance(item, str):
                raise Invalid(f"coding{letter}.{name} must be a string", expression=[f"coding{letter}.{name}"])
        if not value:
            raise Invalid(f"coding{letter} has no code", expression=[f"coding{letter}.code"])
        return CodeRef(value, system or None, version or None)
    if not code:
        raise Invalid(f"No code{letter} or coding{letter} provided: $subsumes needs two codes",
                      expression=[f"code{letter}"])
    return CodeRef(code)


def _system_of(system: str | None, version: str | None, a: CodeRef, b: CodeRef) -> tuple[str, str | None]:
    """The one system both codes are in: the `system` parameter, or the codings' system; all must agree."""
    url, version = cs_ops.split_canonical(system, version) if system else (None, version)
    for letter, ref in (("A", a), ("B", b)):
        if ref.system is None:
            continue
        if url is not None and ref.system != url:
            raise Invalid(f"coding{letter} has system '{ref.system}', but the codes are compared in '{url}': "
                          "$subsumes compares codes of one code system", expression=[f"coding{letter}.system"])
        url = ref.system
        if ref.version:
            if version and ref.version != version:
                raise Invalid(f"coding{letter} has version '{ref.version}', but version '{version}' was asked for",
                              expression=[f"coding{letter}.version"])
            version = ref.version
    if url is None:
        raise Invalid("No system provided: $subsumes needs system with codeA and codeB, or codings with a system",
                      expression=["system"])
    return url, version


def subsumes(conn: Connection, *, system: str | None, version: str | None, a: CodeRef, b: CodeRef
             ) -> dict[str, Any]:
    url, version = _system_of(system, version, a, b)
    resolution = cs_ops.resolve(conn, url, version)
    cs = resolution.found
    if cs is None:
        raise NotFound(unknown_system_message(url, version, resolution.known_versions, "compared"),
                       expression=["system"], message_id="UNKNOWN_CODESYSTEM")
    meaning = cs.resource.get("hierarchyMeaning")
    if meaning in NOT_SUBSUMPTION:
        raise NotSupported(f"CodeSystem '{cs.url}' has hierarchyMeaning '{meaning}': its hierarchy is not "
                           "subsumption, so $subsumes cannot answer", expression=["system"])
    rows = conn.execute(_PAIR, {"cs": cs.id, "a": a.code, "b": b.code}).all()
    ids = {r[0]: int(r[1]) for r in rows}
    links = {(int(r[2]), int(r[3])) for r in rows if r[2] is not None}
    exact = a.code in ids and b.code in ids
    id_a = ids[a.code] if a.code in ids else _ignoring_case(conn, cs, a.code, "A")
    id_b = ids[b.code] if b.code in ids else _ignoring_case(conn, cs, b.code, "B")
    if id_a == id_b:
        outcome = "equivalent"
    else:
        if not exact:
            # a code matched only ignoring case, so the pair query did not see its closure rows
            links = _links(conn, id_a, id_b)
        a_above, b_above = (id_a, id_b) in links, (id_b, id_a) in links
        # a cycle in a hierarchy (both ways) makes the two codes equivalent
        outcome = ("equivalent" if a_above and b_above else "subsumes" if a_above
                   else "subsumed-by" if b_above else "not-subsumed")
    return {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}


def _ignoring_case(conn: Connection, cs: cs_ops.CodeSystemVersion, code: str, letter: str) -> int:
    concept = None if cs.case_sensitive else q.find_concept_ignoring_case(conn, cs.id, code)
    if concept is None:
        where = f"{cs.url} version {cs.version}" if cs.version else cs.url
        raise NotFound(f"Unable to find code{letter} '{code}' in {where}", expression=[f"code{letter}"])
    return concept.concept_id


def _links(conn: Connection, id_a: int, id_b: int) -> set[tuple[int, int]]:
    rows = conn.execute(text("SELECT ancestor_id, descendant_id FROM closure WHERE (ancestor_id = :a AND "
                             "descendant_id = :b) OR (ancestor_id = :b AND descendant_id = :a)"),
                        {"a": id_a, "b": id_b}).all()
    return {(int(r[0]), int(r[1])) for r in rows}
