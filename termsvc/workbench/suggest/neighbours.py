"""Other sites' mappings as evidence: local names some laboratory already mapped, and to what. A new local name
close to a mapped one points at that one's target (Fidahussein and Vreeman, JAMIA 2014: a corpus of mapped local
terms alone ranks the right LOINC first for most of another institution's terms). Any corpus the user gives
(imported ConceptMaps, CSVs of other sites' mappings, every approval in the store) feeds it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from termsvc.workbench.suggest.normalise import expand, without_noise

NEIGHBOURS = 25
MIN_SIMILARITY = 0.35


@dataclass(frozen=True)
class Neighbourhood:
    """What the corpus says of one target: the best similarity of a local name mapped to it, how many close names
    (similarity-weighted) were mapped to it, and their share of all the close names' weight: sites agree on
    "Comment" (one target) and not on "SARS-CoV-2 Result" (a target per device)."""

    best: float
    weight: float
    share: float = 0.0


def _text(name: str) -> str:
    return expand(without_noise(name.lower()))


class MappingCorpus:
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._targets: list[str] = []
        names: list[str] = []
        for name, target in pairs:
            if name and name.strip() and target:
                names.append(_text(name))
                self._targets.append(target)
        self._vectorizer: TfidfVectorizer | None = None
        if names:
            self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True,
                                               dtype=np.float32)
            self._matrix = self._vectorizer.fit_transform(names).tocsr()
            self._postings = self._matrix.T.tocsr()

    def __len__(self) -> int:
        return len(self._targets)

    def evidence(self, name: str) -> dict[str, Neighbourhood]:
        """Targets of the mapped names closest to `name` (cosine of character 3-grams)."""
        if self._vectorizer is None or not name.strip():
            return {}
        query = self._vectorizer.transform([_text(name)])
        hits = (query @ self._postings).tocsr()
        if hits.nnz == 0:
            return {}
        order = np.argsort(-hits.data)[:NEIGHBOURS]
        out: dict[str, tuple[float, float]] = {}
        for i in order:
            similarity = float(hits.data[i])
            if similarity < MIN_SIMILARITY:
                break
            target = self._targets[int(hits.indices[i])]
            best, weight = out.get(target, (0.0, 0.0))
            out[target] = (max(best, similarity), weight + similarity)
        total = sum(weight for _, weight in out.values())
        return {target: Neighbourhood(best, weight, weight / total) for target, (best, weight) in out.items()}
