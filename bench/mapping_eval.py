"""Evaluate the workbench's suggestions on the lab gold sets of ../shared/data/mapping-dev (see bench/mapping_data.py):
top-1/5/10 and MRR over the rows whose gold code is in the candidate pool, for
  (a) rapidfuzz token_set_ratio of the local name against each pool name,
  (b) a Usagi-style character 2-3-gram TF-IDF of name + specimen against each pool name,
  (c) the engine, with its ranking model trained WITHOUT the set being scored (held out by source) and the other
      sets' mappings as its nearest-neighbour corpus (never the scored set's own),
each overall and per specimen group of the gold term (serum/plasma, blood, urine, CSF, other fluids, stool, ...).

Usage: .venv/bin/python bench/mapping_eval.py [--data DIR] [--only livd|labcorp] [--errors N] [--engine-only]
       [--shipped]  (score with the shipped model instead of one trained held out: optimistic, for comparison)
       [--seeds N]  (train N held-out models with different seeds and report each and their mean: near-identical
                     models differ by several points on a small set, so a change is judged on the mean)"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mapping_data import SOURCES, Item, all_items, default_data, loinc_pool, specimen_group
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import TfidfVectorizer

from termsvc.workbench.suggest import Candidate, LocalTerm, TargetIndex
from termsvc.workbench.suggest.learned import RankModel, averaged, fit_model, training_rows
from termsvc.workbench.suggest.neighbours import MappingCorpus
from termsvc.workbench.suggest.synthetic import synthetic_items

SYNTHETIC_ITEMS = 1000  # local items written from LOINC's own terms (synthetic.py), added to every training set
BAGS = 3  # models averaged into one (bagged_model)

Ranker = Callable[[Item], list[str]]


class Tally:
    def __init__(self) -> None:
        self.n = 0
        self.hits = {1: 0, 5: 0, 10: 0}
        self.rr = 0.0

    def add(self, ranked: Sequence[str], gold: str) -> int | None:
        self.n += 1
        rank = ranked.index(gold) + 1 if gold in ranked else None
        if rank is not None:
            self.rr += 1.0 / rank
            for k in self.hits:
                if rank <= k:
                    self.hits[k] += 1
        return rank

    def top(self, k: int) -> float:
        return self.hits[k] / self.n if self.n else 0.0

    def line(self, label: str) -> str:
        if not self.n:
            return f"{label:<40} (no items)"
        return (f"{label:<40} n={self.n:<5} top1={self.top(1):.3f} top5={self.top(5):.3f} "
                f"top10={self.top(10):.3f} MRR={self.rr / self.n:.3f}")


def _names(pool: Sequence[Candidate]) -> tuple[list[str], list[int]]:
    """Every name of every pool code (display and synonyms, as a baseline tool indexes them) and its code's row."""
    names: list[str] = []
    owners: list[int] = []
    for row, c in enumerate(pool):
        for name in (c.display, *(d for d in c.designations if ";" not in d)):
            names.append(name)
            owners.append(row)
    return names, owners


def token_set_baseline(pool: Sequence[Candidate]) -> Ranker:
    names, owners = _names(pool)

    def rank(item: Item) -> list[str]:
        found = process.extract(item.term.display, names, scorer=fuzz.token_set_ratio, limit=60)
        ranked: list[str] = []
        for _, _, i in found:
            code = pool[owners[i]].code
            if code not in ranked:
                ranked.append(code)
        return ranked[:10]
    return rank


def usagi_baseline(pool: Sequence[Candidate]) -> Ranker:
    """Usagi's retrieval: character 2-3-gram TF-IDF, cosine of the source text against each target name and
    synonym, a target scored by its best name."""
    names, owners = _names(pool)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, dtype=np.float32)
    matrix = vectorizer.fit_transform([n.lower() for n in names])
    rows = np.asarray(owners)

    def rank(item: Item) -> list[str]:
        text = " ".join(filter(None, (item.term.display, item.term.specimen))).lower()
        scores = (matrix @ vectorizer.transform([text]).T).toarray().ravel()
        best = np.zeros(len(pool), dtype=np.float32)
        np.maximum.at(best, rows, scores)
        return [pool[i].code for i in np.argsort(-best, kind="stable")[:10]]
    return rank


def engine_ranker(pool: Sequence[Candidate], scored: Sequence[Item], others: Sequence[Item],
                  model: RankModel | None) -> Ranker:
    corpus = MappingCorpus([(i.term.display, i.gold) for i in others])
    index = TargetIndex.from_candidates(pool, local_names=[i.term.display for i in scored], model=model,
                                        corpus=corpus)

    def rank(item: Item) -> list[str]:
        return [s.target_code for s in index.suggest(item.term, top=10)]
    return rank


def bagged_model(pool: Sequence[Candidate], items: Sequence[tuple[LocalTerm, str, str]], seed: int = 0,
                 meta: dict[str, object] | None = None) -> RankModel:
    """BAGS models, each on the items plus its own draw of synthetic items, averaged into one: a single draw moves
    LIVD's held-out top-1 by up to .10, the average by about half that."""
    index = TargetIndex.from_candidates(pool, local_names=[t.display for t, _, _ in items])
    members = []
    for draw in range(seed * BAGS, seed * BAGS + BAGS):
        synthetic = synthetic_items(pool, SYNTHETIC_ITEMS, seed=draw)
        members.append(fit_model(training_rows(pool, [*items, *synthetic], index=index), seed=draw))
    return averaged(members, meta=meta)


def held_out_model(pool: Sequence[Candidate], train: Sequence[Item], seed: int = 0) -> RankModel:
    """A model trained on `train` alone; each training source's neighbour corpus is the other training sources
    plus nothing of the scored set, as at scoring time. The seed draws the synthetic items and the trees' bins."""
    known = {c.code for c in pool}
    return bagged_model(pool, [(i.term, i.gold, i.source) for i in train if i.gold in known], seed)


def evaluate(source: str, items: Sequence[Item], pool: Sequence[Candidate], rankers: dict[str, Ranker],
             errors: int) -> dict[str, Tally]:
    by_code = {c.code: c for c in pool}
    scored = [i for i in items if i.gold in by_code]
    print(f"\n== {source}: {len(items)} rows with a LOINC code, {len(scored)} with the gold code in the pool "
          f"({len({i.gold for i in scored})} distinct codes); pool {len(pool)}")
    totals: dict[str, Tally] = {}
    groups: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    misses: list[str] = []
    for label, ranker in rankers.items():
        started = time.perf_counter()
        total = totals[label] = Tally()
        for item in scored:
            ranked = ranker(item)
            rank = total.add(ranked, item.gold)
            groups[specimen_group(by_code[item.gold])][label].add(ranked, item.gold)
            if label == "engine" and (rank is None or rank > 1) and len(misses) < errors:
                got = [by_code[c].display for c in ranked[:3]]
                misses.append(f"  miss@1 {item.term.display!r} [{item.term.specimen or item.term.category or ''}] "
                              f"{item.term.units or ''}\n     gold: {by_code[item.gold].display}\n     got:  "
                              + " | ".join(got))
        print(total.line(f"{label}") + f"  ({time.perf_counter() - started:.1f} s)")
    print("per specimen group of the gold term (top1 / top5):")
    for group, tallies in sorted(groups.items(), key=lambda kv: -next(iter(kv[1].values())).n):
        n = next(iter(tallies.values())).n
        cells = "  ".join(f"{label} {t.top(1):.2f}/{t.top(5):.2f}" for label, t in tallies.items())
        print(f"  {group:<16} n={n:<4} {cells}")
    for line in misses:
        print(line)
    return totals


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--only", choices=SOURCES, default=None)
    parser.add_argument("--errors", type=int, default=0, help="print this many top-1 misses of the engine")
    parser.add_argument("--engine-only", action="store_true")
    parser.add_argument("--shipped", action="store_true", help="use the shipped model (trained on every set)")
    parser.add_argument("--seeds", type=int, default=1, help="held-out models to train and average")
    args = parser.parse_args(list(argv) if argv is not None else None)
    pool = loinc_pool(args.data)
    items = all_items(args.data)
    for source in SOURCES if args.only is None else (args.only,):
        others = [i for s, rows in items.items() if s != source for i in rows]
        engines: list[Tally] = []
        for seed in range(1 if args.shipped else args.seeds):
            started = time.perf_counter()
            model = RankModel.shipped() if args.shipped else held_out_model(pool, others, seed)
            trained = "trained on " + ", ".join(sorted({i.source for i in others}))
            print(f"\n[{source}] model {'shipped' if args.shipped else trained} (seed {seed}) in "
                  f"{time.perf_counter() - started:.1f} s")
            rankers: dict[str, Ranker] = {}
            if not args.engine_only and seed == 0:
                rankers["token_set"] = token_set_baseline(pool)
                rankers["usagi_tfidf"] = usagi_baseline(pool)
            rankers["engine"] = engine_ranker(pool, items[source], others, model)
            engines.append(evaluate(source, items[source], pool, rankers, args.errors if seed == 0 else 0)["engine"])
        if len(engines) > 1:
            print(f"[{source}] engine over {len(engines)} seeds: " + "  ".join(
                f"{label} mean {np.mean(v):.3f} (min {min(v):.3f}, max {max(v):.3f})" for label, v in (
                    ("top1", [t.top(1) for t in engines]), ("top5", [t.top(5) for t in engines]),
                    ("MRR", [t.rr / t.n for t in engines]))))
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
