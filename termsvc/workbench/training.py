"""Refit the ranking model on a site's own approvals, so the engine learns the laboratory's naming. A third of the
approved codes (by a hash of the local name, so a name never lands on both sides) is held out; the site model is
kept only if it ranks the held-out approvals at least as well as the shipped model (top-1, then MRR), and is then
refitted on every approval."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from termsvc.errors import Invalid
from termsvc.workbench import decisions as d
from termsvc.workbench.local_codes import all_codes
from termsvc.workbench.projects import Project
from termsvc.workbench.suggest.learned import RankModel, fit_model, training_rows
from termsvc.workbench.suggest.model import LocalTerm
from termsvc.workbench.suggest.neighbours import MappingCorpus
from termsvc.workbench.suggest.ranker import TargetIndex
from termsvc.workbench.suggesting import local_term, open_index

MIN_APPROVALS = 30


@dataclass(frozen=True)
class Figures:
    n: int
    top1: float
    mrr: float

    def __str__(self) -> str:
        return f"top-1 {self.top1:.3f}, MRR {self.mrr:.3f} on {self.n} held-out approvals"


@dataclass(frozen=True)
class TrainResult:
    model: RankModel | None  # None: the site model did not do as well as the shipped one
    shipped: Figures
    site: Figures
    approvals: int


def _held_out(name: str) -> bool:
    return int(hashlib.sha1(name.lower().encode()).hexdigest(), 16) % 3 == 0


def approved_items(conn: Connection, project: Project) -> list[tuple[LocalTerm, str]]:
    states = d.current_states(conn, project)
    out: list[tuple[LocalTerm, str]] = []
    for code in all_codes(conn, project):
        state = states.get(code.local_code_id)
        if state is not None and state.state == d.APPROVED and state.target_code:
            out.append((local_term(code), state.target_code))
    return out


def figures(index: TargetIndex, model: RankModel, items: Sequence[tuple[LocalTerm, str]]) -> Figures:
    index.set_model(model)
    hits = 0
    reciprocal = 0.0
    for term, gold in items:
        ranked = [s.target_code for s in index.suggest(term, top=10)]
        if ranked[:1] == [gold]:
            hits += 1
        if gold in ranked:
            reciprocal += 1.0 / (ranked.index(gold) + 1)
    n = max(1, len(items))
    return Figures(len(items), hits / n, reciprocal / n)


def train_project(conn: Connection, project: Project, *, seed: int = 0) -> TrainResult:
    items = approved_items(conn, project)
    if len(items) < MIN_APPROVALS:
        raise Invalid(f"project {project.name!r} has {len(items)} approved codes; training needs at least "
                      f"{MIN_APPROVALS}")
    train = [(t, gold, "site") for t, gold in items if not _held_out(t.display)]
    held = [(t, gold) for t, gold in items if _held_out(t.display)]
    if not train or not held:
        raise Invalid("the approvals do not split into a training and a held-out part (too few distinct names)")
    index = open_index(conn, project, all_codes(conn, project))
    shipped = RankModel.shipped()
    candidate = fit_model(training_rows(index.candidates, train, index=index), seed=seed)
    # scored as at suggestion time: the training approvals are the neighbour corpus, the held-out ones are not
    index.corpus = MappingCorpus([(t.display, gold) for t, gold, _ in train])
    before, after = figures(index, shipped, held), figures(index, candidate, held)
    if (after.top1, after.mrr) < (before.top1, before.mrr):
        return TrainResult(None, before, after, len(items))
    everything = [(t, gold, "site") for t, gold in items]
    final = fit_model(training_rows(index.candidates, everything, index=index), seed=seed,
                      meta={"trained_on": [f"project {project.name}"], "items": len(items),
                            "held_out": {"shipped": str(before), "site": str(after)}})
    return TrainResult(final, before, after, len(items))
