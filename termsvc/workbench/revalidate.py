"""After a new target release: approved targets that are gone, inactive or renamed go back into review, each
with a decision row saying why and with replacements the release itself proposes as the first suggestions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import all_codes
from termsvc.workbench.projects import Project, now
from termsvc.workbench.targets import TargetVersion, find_target, target_version

# properties whose value names a replacement for an inactive concept, as the loaders store them:
# LOINC MapTo.csv, RxNorm RXNCUI/RXNCUICHANGES remaps, SNOMED CT historical association refsets; strongest first
REPLACEMENT_PROPERTIES = {
    "MAP_TO": "LOINC MAP_TO",
    "remapped_to": "RxNorm remapped to",
    "900000000000527005": "SNOMED CT SAME AS",
    "900000000000526001": "SNOMED CT REPLACED BY",
    "900000000000523009": "SNOMED CT POSSIBLY EQUIVALENT TO",
    "1186921001": "SNOMED CT POSSIBLY REPLACED BY",
    "1186924009": "SNOMED CT PARTIALLY EQUIVALENT TO",
    "900000000000530003": "SNOMED CT ALTERNATIVE",
    "900000000000524003": "SNOMED CT MOVED TO",
    # last: a broader concept, which a reviewer may still accept with equivalence `wider`
    "900000000000528000": "SNOMED CT WAS A (broader)",
}


@dataclass(frozen=True)
class Reopened:
    local_code: str
    target_code: str
    reason: str
    replacements: tuple[tuple[str, str | None, str], ...]  # (code, display, why)


# a replacement may itself have been retired since; its own replacements are followed this far
MAX_CHAIN = 5


def replacements(conn: Connection, target: TargetVersion, code: str) -> list[tuple[str, str | None, str]]:
    """Active replacements the release names for `code`, strongest association first (SAME AS before
    ALTERNATIVE, whatever the file order); a retired replacement is replaced by its own, transitively."""
    found: list[tuple[str, str | None, str]] = []
    seen = {code}
    frontier = [(code, "")]
    for _ in range(MAX_CHAIN):
        following: list[tuple[str, str]] = []
        for current, via in frontier:
            for prop, value in _named(conn, target, current):
                if value in seen:
                    continue
                seen.add(value)
                why = REPLACEMENT_PROPERTIES[prop] + via
                concept = find_target(conn, target, value)
                if concept is not None and concept.active:
                    found.append((value, concept.display, why))
                elif concept is not None:
                    following.append((value, f"{via} via {value}"))
        if not following:
            break
        frontier = following
    return found


def _named(conn: Connection, target: TargetVersion, code: str) -> list[tuple[str, str]]:
    rank = list(REPLACEMENT_PROPERTIES)
    rows = conn.execute(text(
        "SELECT p.code, p.value FROM concept_property p JOIN concept c ON c.concept_id = p.concept_id "
        "WHERE c.code_system_id = :cs AND c.code = :code AND p.code IN (" +
        ", ".join(f":p{i}" for i in range(len(rank))) + ") ORDER BY p.concept_property_id"),
        {"cs": target.code_system_id, "code": code, **{f"p{i}": k for i, k in enumerate(rank)}}).all()
    return sorted(((str(p), str(v)) for p, v in rows), key=lambda row: rank.index(row[0]))


def revalidate(conn: Connection, project: Project, reviewer: str, *, version: str | None = None) -> list[Reopened]:
    # a new release is checked against whether or not the project pinned the old one; a pin then moves on
    target = target_version(conn, project, version or "")
    if project.target_version and target.version != project.target_version:
        conn.execute(text("UPDATE project SET target_version = :v WHERE project_id = :p"),
                     {"v": target.version, "p": project.project_id})
    states, extras = d.current_states(conn, project), d.additional_targets(conn, project)
    reopened: list[Reopened] = []
    for code in all_codes(conn, project):
        state = states.get(code.local_code_id)
        if state is None or state.state != d.APPROVED or not state.target_code:
            continue
        reasons: list[str] = []
        proposed: list[tuple[str, str | None, str]] = []
        for approved in (state, *extras.get(code.local_code_id, ())):
            checked = _changed(conn, target, approved)
            if checked is not None:
                reasons.append(checked[0])
                proposed += [p for p in checked[1] if all(p[0] != q[0] for q in proposed)]
        if not reasons:
            continue
        reason = "; ".join(reasons)
        if proposed:
            reason += "; proposed: " + ", ".join(f"{c} ({why})" for c, _, why in proposed)
        else:
            reason += "; the release names no replacement"
        d.record(conn, project, code.local_code_id, reviewer, "revalidate",
                 d.State(d.PENDING, None, None, None, reason))
        _suggest_first(conn, project, code.local_code_id, proposed)
        reopened.append(Reopened(code.code, state.target_code, reason, tuple(proposed)))
    return reopened


def _changed(conn: Connection, target: TargetVersion, approved: d.State
             ) -> tuple[str, list[tuple[str, str | None, str]]] | None:
    """Why an approved target needs another look in the release, with what the release proposes instead."""
    shown = target.shown
    code = approved.target_code or ""
    concept = find_target(conn, target, code)
    if concept is None:
        return f"target {code} does not exist in {shown}", replacements(conn, target, code)
    if not concept.active:
        return (f"target {code} is inactive in {shown} (status {concept.status or 'inactive'})",
                replacements(conn, target, code))
    if approved.target_display and concept.display != approved.target_display:
        return (f"target {code} was renamed in {shown}: {approved.target_display!r} -> {concept.display!r}",
                [(concept.code, concept.display, "same code, new name")])
    return None


def _suggest_first(conn: Connection, project: Project, local_code_id: int,
                   proposed: list[tuple[str, str | None, str]]) -> None:
    """The release's replacements go before any cached suggestions, so review shows them first."""
    if not proposed:
        return
    conn.execute(text("UPDATE suggestion SET rank = rank + :n WHERE local_code_id = :id"),
                 {"n": len(proposed), "id": local_code_id})
    conn.execute(text("DELETE FROM suggestion WHERE local_code_id = :id AND target_code IN (" +
                      ", ".join(f":c{i}" for i in range(len(proposed))) + ")"),
                 {"id": local_code_id, **{f"c{i}": c for i, (c, _, _) in enumerate(proposed)}})
    conn.execute(text("INSERT INTO suggestion (project_id, local_code_id, rank, target_code, target_display, score, "
                      "explanation, created_at) VALUES (:p, :id, :rank, :c, :disp, 1.0, :why, :at)"),
                 [{"p": project.project_id, "id": local_code_id, "rank": i, "c": c, "disp": disp,
                   "why": f"replacement named by the release ({why})", "at": now()}
                  for i, (c, disp, why) in enumerate(proposed, start=1)])
