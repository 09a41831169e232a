"""Running the ranking engine (termsvc.workbench.suggest) over a project's local codes, caching the ranked
candidates for review, and writing them out for scripts and evaluation."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from termsvc.errors import Invalid
from termsvc.loaders.loinc_model import SYSTEM as LOINC_SYSTEM
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import StoredCode, all_codes
from termsvc.workbench.projects import Project, now
from termsvc.workbench.targets import target_version

if TYPE_CHECKING:
    from termsvc.workbench.suggest import LocalTerm, TargetIndex
    from termsvc.workbench.suggest.learned import RankModel

OUTPUT_COLUMNS = ("local_code", "rank", "target_code", "display", "score")


@dataclass(frozen=True)
class Ranked:
    local_code: str
    rank: int
    target_code: str
    display: str
    score: float
    explanation: str


def normalise(name: str) -> str:
    from termsvc.workbench.suggest import evidence_key

    return evidence_key(name)


_APPROVED = text(
        "SELECT lc.display, d.target_code FROM decision d "
        "JOIN (SELECT local_code_id, MAX(decision_id) AS last FROM decision WHERE action <> 'also' "
        "GROUP BY local_code_id) m "
        "ON m.last = d.decision_id JOIN local_code lc ON lc.local_code_id = d.local_code_id "
        "JOIN project p ON p.project_id = lc.project_id "
        "WHERE d.new_state = :approved AND p.target_system = :t AND d.target_code IS NOT NULL")


def approved_pairs(conn: Connection, target_system: str) -> list[tuple[str, str]]:
    """(local display, target code) of every current approval in every project mapping to the target system:
    this site's work and any other site's mappings imported as a project (ConceptMap, Usagi, CSV)."""
    return [(str(display), str(target)) for display, target in conn.execute(
        _APPROVED, {"approved": d.APPROVED, "t": target_system})]


_HINTED = text(
        "SELECT lc.display, lc.extra FROM local_code lc JOIN project p ON p.project_id = lc.project_id "
        "WHERE p.target_system = :t AND lc.extra LIKE '%loinc_hint%'")


def hinted_pairs(conn: Connection, target_system: str) -> list[tuple[str, str]]:
    """(local display, LOINC code) of every local code whose messages carried a LOINC code beside it (a dual-coded
    OBX-3, an Observation's second coding): the sender's own mapping, evidence like another site's, never a
    decision."""
    if target_system != LOINC_SYSTEM:
        return []
    pairs = []
    for display, extra in conn.execute(_HINTED, {"t": target_system}):
        hint = json.loads(extra or "{}").get("loinc_hint")
        if display and hint:
            pairs.append((str(display), str(hint)))
    return pairs


def evidence(conn: Connection, target_system: str) -> dict[str, list[tuple[str, int]]]:
    """Approvals (current ones only) in every project mapping to the same target system:
    normalised local display -> [(target code, times approved)], most approved first."""
    rows = approved_pairs(conn, target_system)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for display, target in rows:
        counts[normalise(display)][target] += 1
    return {name: sorted(by_target.items(), key=lambda kv: (-kv[1], kv[0])) for name, by_target in counts.items()}


def local_term(code: StoredCode) -> LocalTerm:
    from termsvc.workbench.suggest import LocalTerm

    return LocalTerm(code=code.code, display=code.display, units=code.units, specimen=code.specimen,
                     category=code.category, count=code.count, extra=dict(code.extra))


def open_index(conn: Connection, project: Project, codes: Sequence[StoredCode], *,
               model: RankModel | None = None) -> TargetIndex:
    """The target's index with the store's approvals and the senders' own LOINC codings as its neighbour corpus (a
    site's own codes never meet their own approvals there: those are pending codes' neighbours only)."""
    from termsvc.workbench.suggest import build_index
    from termsvc.workbench.suggest.neighbours import MappingCorpus

    target = target_version(conn, project)
    index = build_index(conn, target.url, target.version or None, local_names=[c.display for c in codes])
    index.corpus = MappingCorpus(approved_pairs(conn, project.target_system)
                                 + hinted_pairs(conn, project.target_system))
    if model is not None:
        index.set_model(model)
    return index


def suggest_all(conn: Connection, project: Project, *, top: int = 10, pending_only: bool = True,
                filters: Mapping[str, str] | None = None, model: RankModel | None = None) -> list[Ranked]:
    """Rank candidates for every local code (or only those still pending) and replace their cached
    suggestions. Suggestions are a cache, not a record: decisions are what is kept."""
    if top < 1:
        raise Invalid("--top must be at least 1")
    codes = all_codes(conn, project)
    if pending_only:
        states = d.current_states(conn, project)
        codes = [c for c in codes if states.get(c.local_code_id, d.State()).state == d.PENDING]
    if not codes:
        return []
    index = open_index(conn, project, all_codes(conn, project), model=model)
    known = evidence(conn, project.target_system)
    ranked: list[Ranked] = []
    rows = []
    stamp = now()
    for code in codes:
        for rank, s in enumerate(index.suggest(local_term(code), top=top, filters=filters, evidence=known), 1):
            ranked.append(Ranked(code.code, rank, s.target_code, s.target_display, s.score, s.explanation))
            rows.append({"p": project.project_id, "lc": code.local_code_id, "rank": rank, "tc": s.target_code,
                         "td": s.target_display, "score": float(s.score), "ex": s.explanation, "at": stamp})
    ids = [c.local_code_id for c in codes]
    for start in range(0, len(ids), 500):
        conn.execute(text("DELETE FROM suggestion WHERE local_code_id IN (" +
                          ", ".join(str(i) for i in ids[start:start + 500]) + ")"))
    if rows:
        conn.execute(text("INSERT INTO suggestion (project_id, local_code_id, rank, target_code, target_display, "
                          "score, explanation, created_at) VALUES (:p, :lc, :rank, :tc, :td, :score, :ex, :at)"),
                     rows)
    return ranked


def cached(conn: Connection, local_code_id: int) -> list[Ranked]:
    return [Ranked("", int(r[0]), r[1], r[2] or "", float(r[3]), r[4] or "") for r in conn.execute(text(
        "SELECT rank, target_code, target_display, score, explanation FROM suggestion WHERE local_code_id = :id "
        "ORDER BY rank"), {"id": local_code_id})]


def write_output(path: Path, ranked: Sequence[Ranked]) -> None:
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps([{"local_code": r.local_code, "rank": r.rank, "target_code": r.target_code,
                                     "display": r.display, "score": round(r.score, 6),
                                     "explanation": r.explanation} for r in ranked], indent=1, ensure_ascii=False),
                        encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(OUTPUT_COLUMNS)
        for r in ranked:
            writer.writerow((r.local_code, r.rank, r.target_code, r.display, f"{r.score:.6f}"))
