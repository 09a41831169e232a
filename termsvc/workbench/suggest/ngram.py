"""Candidate retrieval: character n-gram TF-IDF over every name of every target, with the local file's names in
the document frequencies (as Usagi does), so words common in the lab's own file weigh less. A candidate's
retrieval score is the best of its names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer


class NgramIndex:
    def __init__(self, names_per_candidate: Sequence[Sequence[str]], local_names: Sequence[str] = ()) -> None:
        flat: list[str] = []
        owners: list[int] = []
        for i, names in enumerate(names_per_candidate):
            mine = names if names else [""]
            flat.extend(mine)
            owners.extend([i] * len(mine))
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), lowercase=False,
                                           sublinear_tf=True, dtype=np.float32)
        # one pass over the text: fitted with the local names, which are then dropped from the matrix
        matrix = self._vectorizer.fit_transform([*flat, *local_names]).tocsr()[: len(flat)]
        # n-gram -> names (postings): a query touches only the rows of its own n-grams
        self._postings = matrix.T.tocsr()
        self.size = len(names_per_candidate)
        self._owner = np.asarray(owners, dtype=np.int64)

    def scores(self, text: str) -> NDArray[np.float32]:
        """Cosine similarity of `text` to each candidate's best name."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        query = self._vectorizer.transform([text]).tocsr()
        hits = (query @ self._postings).tocsr()  # one row: only the names sharing an n-gram with the query
        best = np.zeros(self.size, dtype=np.float32)
        np.maximum.at(best, self._owner[hits.indices], hits.data.astype(np.float32))
        return best

    def top(self, text: str, n: int, allowed: NDArray[np.bool_] | None = None) -> list[tuple[int, float]]:
        """The n best candidates (index, cosine), best first; `allowed` masks candidates out."""
        scores = self.scores(text)
        if allowed is not None:
            scores = np.where(allowed, scores, -1.0).astype(np.float32)
        n = min(n, self.size)
        if n <= 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best if scores[i] >= 0.0]
