"""The learned ranking model: gradient-boosted trees over the features of features.py, fitted with scikit-learn's
HistGradientBoostingClassifier (already a dependency; fast on a few hundred thousand rows, and its monotonic
constraints keep a better name or an agreeing axis from ever lowering a score, which generalises to sites not
seen). The fitted trees are exported to plain JSON and walked with numpy, so the shipped model does not depend on
scikit-learn's pickle format or version: small, versioned, reproducible by bench/train_suggest_model.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from termsvc.errors import Invalid
from termsvc.workbench.suggest.features import FEATURES

if TYPE_CHECKING:
    from termsvc.workbench.suggest.model import Candidate, LocalTerm
    from termsvc.workbench.suggest.ranker import TargetIndex

FORMAT: Final = "termsvc-rank-trees/1"
SYNTHETIC: Final = "loinc"  # the source of synthetic items (synthetic.py): training data, never a corpus
SHIPPED: Final = "ranker.json"
# +1: the score may only rise with the feature; -1: only fall; 0: free.
MONOTONE: Final[dict[str, int]] = {
    "ngram": 1, "token_set": 1, "wratio": 1, "component_token_set": 1, "component_wratio": 1, "query_coverage": 1,
    "component_coverage": 1, "unasked_words": -1,
    "prop_exact": 1, "prop_relation": 1, "prop_conflict": -1,
    "sys_exact": 1, "sys_overlap": 1, "sys_covers": 1, "sys_conflict": -1, "order_exact": 1, "order_overlap": 1,
    "order_conflict": -1, "scale_agree": 1, "scale_conflict": -1, "method_overlap": 1,
    "timing_agree": 1, "timing_conflict": -1, "timing_differs": -1, "discouraged": -1,
    "neighbour_best": 1, "neighbour_weight": 1, "neighbour_share": 1, "rank": 1, "kind_agree": 1, "kind_conflict": -1,
}


@dataclass(frozen=True)
class TrainingRows:
    x: NDArray[np.float32]
    y: NDArray[np.int8]
    group: NDArray[np.int64]  # which local item a row belongs to


class RankModel:
    """Boosted trees as flat arrays; score = sigmoid(baseline + sum of the leaves reached)."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != FORMAT:
            raise Invalid(f"ranking model format {document.get('format')!r} is not {FORMAT}")
        if tuple(document["features"]) != FEATURES:
            raise Invalid("ranking model was trained on other features than this engine computes")
        self.document = document
        self.baseline = float(document["baseline"])
        trees = document["trees"]
        width = max(len(t["leaf"]) for t in trees)

        def table(key: str, dtype: type, fill: float | int | bool) -> NDArray[Any]:
            out: NDArray[Any] = np.full((len(trees), width), fill, dtype=dtype)
            for n, tree in enumerate(trees):
                out[n, : len(tree[key])] = tree[key]
            return out
        # every tree as one row of padded arrays, so a batch walks all trees at once (depth steps, not nodes)
        self._feature = table("feature", np.int64, 0)
        self._threshold = table("threshold", np.float64, 0.0)
        self._left = table("left", np.int64, 0)
        self._right = table("right", np.int64, 0)
        self._leaf = table("leaf", np.bool_, True)
        self._value = table("value", np.float64, 0.0)

    @classmethod
    def shipped(cls) -> RankModel:
        return _shipped()

    @classmethod
    def load(cls, path: Path) -> RankModel:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.document, separators=(",", ":")), encoding="utf-8")

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.document["trees"]).encode()).hexdigest()[:12]

    def score(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """The probability that each row's candidate is the mapping. All trees walk together over flat arrays:
        as many numpy steps as the trees are deep."""
        n_trees, width = self._feature.shape
        feature, threshold = self._feature.ravel(), self._threshold.ravel()
        left, right, leaf = self._left.ravel(), self._right.ravel(), self._leaf.ravel()
        base = (np.arange(n_trees, dtype=np.int64) * width)[:, None]
        node = np.broadcast_to(base, (n_trees, x.shape[0])).copy()
        cells = x.ravel()
        offset = (np.arange(x.shape[0], dtype=np.int64) * x.shape[1])[None, :]
        for _ in range(64):
            open_ = ~leaf[node]
            if not open_.any():
                break
            go_left = cells[offset + feature[node]] <= threshold[node]
            node = np.where(open_, base + np.where(go_left, left[node], right[node]), node)
        raw = self.baseline + self._value.ravel()[node].sum(axis=0)
        return 1.0 / (1.0 + np.exp(-raw))


def fit_model(rows: TrainingRows, *, meta: dict[str, Any] | None = None, seed: int = 0) -> RankModel:
    from sklearn.ensemble import HistGradientBoostingClassifier

    if rows.y.sum() == 0:
        raise Invalid("no training item has its mapped target among the candidates: nothing to learn from")
    classifier = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.06, max_leaf_nodes=15, max_depth=5, min_samples_leaf=40, l2_regularization=1.0,
        monotonic_cst=[MONOTONE.get(name, 0) for name in FEATURES], random_state=seed)
    classifier.fit(rows.x, rows.y)
    trees = []
    for per_class in classifier._predictors:  # one tree per boosting round (binary: one class)
        nodes = per_class[0].nodes
        trees.append({"feature": nodes["feature_idx"].astype(int).tolist(),
                      "threshold": nodes["num_threshold"].astype(float).tolist(),
                      "left": nodes["left"].astype(int).tolist(), "right": nodes["right"].astype(int).tolist(),
                      "leaf": nodes["is_leaf"].astype(bool).tolist(), "value": nodes["value"].astype(float).tolist()})
    baseline = float(np.ravel(classifier._baseline_prediction)[0])
    return RankModel({"format": FORMAT, "features": list(FEATURES), "baseline": baseline, "trees": trees,
                      "meta": meta or {}})


def averaged(models: Sequence[RankModel], *, meta: dict[str, Any] | None = None) -> RankModel:
    """One model scoring the mean of the members' raw scores: their trees side by side, each leaf weighed by
    1/len(models) (bagging over the synthetic items' draws: one draw moves LIVD's top-1 by several points)."""
    if not models:
        raise Invalid("no models to average")
    share = 1.0 / len(models)
    trees = [{**tree, "value": [v * share for v in tree["value"]]} for m in models for tree in m.document["trees"]]
    baseline = sum(m.baseline for m in models) * share
    return RankModel({"format": FORMAT, "features": list(FEATURES), "baseline": baseline, "trees": trees,
                      "meta": meta or {}})


def training_rows(pool: Sequence[Candidate], items: Sequence[tuple[LocalTerm, str, str]], *,
                  index: TargetIndex | None = None) -> TrainingRows:
    """Feature rows of every shortlisted candidate of every item, labelled by the gold code. Each item's neighbour
    corpus is the mappings of the other sources and of the other half of its own source, split by the order or
    device an item belongs to (else its name): the same name under another order or from another device's vendor
    is a neighbour, as another site's is at scoring time, so the model learns how far an identical name mapped
    elsewhere can be trusted (LabCorp's "Comment" rows agree; LIVD's "SARS-CoV-2 Result" rows do not). Synthetic
    items are each other's corpus the same way (never a real source's), so close names mapped elsewhere are met too."""
    from termsvc.workbench.suggest.neighbours import MappingCorpus
    from termsvc.workbench.suggest.ranker import TargetIndex as Index

    def half(term: LocalTerm) -> int:
        group = term.category or term.extra.get("device") or term.display
        return int(hashlib.sha1(group.lower().encode()).hexdigest(), 16) % 2

    xs: list[NDArray[np.float32]] = []
    ys: list[NDArray[np.int8]] = []
    groups: list[NDArray[np.int64]] = []
    if index is None:
        index = Index.from_candidates(pool, local_names=[t.display for t, _, _ in items])
    kept_corpus = index.corpus
    for source in sorted({s for _, _, s in items}):
        for side in (0, 1):
            # synthetic items are a corpus for each other only: so the model also meets close names that some
            # other "site" mapped elsewhere ("Potassium, Urine" near "Potassium"), not only LabCorp's exact repeats
            index.corpus = MappingCorpus([(t.display, gold) for t, gold, s in items
                                          if (s != SYNTHETIC or source == SYNTHETIC)
                                          and (s != source or half(t) != side)])
            for number, (term, gold, s) in enumerate(items):
                if s != source or half(term) != side:
                    continue
                codes, x = index.features(term)
                if not codes:
                    continue
                xs.append(x)
                ys.append(np.asarray([code == gold for code in codes], dtype=np.int8))
                groups.append(np.full(len(codes), number, dtype=np.int64))
    index.corpus = kept_corpus
    if not xs:
        raise Invalid("no training items")
    return TrainingRows(np.vstack(xs), np.concatenate(ys), np.concatenate(groups))


@lru_cache(maxsize=1)
def _shipped() -> RankModel:
    text = resources.files("termsvc.workbench.suggest").joinpath(SHIPPED).read_text(encoding="utf-8")
    return RankModel(json.loads(text))
