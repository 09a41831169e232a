"""TargetIndex: retrieve a shortlist by n-gram TF-IDF (plus the targets of close names in a mapping corpus and of
earlier approvals), measure each candidate against the local item (name similarities, LOINC axes agreeing or
conflicting, common test rank, neighbour evidence: features.py) and order them by the learned model (learned.py).
Drug code systems keep a name score with strength and dose-form checks. Inactive targets are never suggested; a
match on one suggests its replacement instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from termsvc.errors import Invalid
from termsvc.workbench.suggest import drugs
from termsvc.workbench.suggest.abbreviations import DRUG, LAB, LAB_ATTESTED, NOISE
from termsvc.workbench.suggest.features import (
    FEATURES,
    LocalAxes,
    NameScores,
    TargetAxes,
    kinds_of,
    pair_features,
)
from termsvc.workbench.suggest.learned import RankModel
from termsvc.workbench.suggest.lexicon import derive, merged
from termsvc.workbench.suggest.model import Candidate, LocalTerm, Suggestion
from termsvc.workbench.suggest.neighbours import MappingCorpus, Neighbourhood
from termsvc.workbench.suggest.ngram import NgramIndex
from termsvc.workbench.suggest.normalise import (
    Words,
    canonical,
    evidence_key,
    expand,
    fold,
    readings,
    stems,
    tokens,
    without_noise,
)
from termsvc.workbench.suggest.vocabulary import TargetVocabulary

SHORTLIST = 150
UNASKED_WORD, UNASKED_CAP = 0.015, 0.06
EVIDENCE_BOOST = 0.45  # an earlier approval of the same local name outweighs any name or context difference
_PREFERRED_TTY = frozenset({"SCD", "SBD", "GPCK", "BPCK"})
_FILTER_PROPERTIES = {"class": "CLASS", "system": "SYSTEM", "tty": "TTY"}


@dataclass
class _Scored:
    index: int
    raw: float
    reasons: list[str]


def _said(term: LocalTerm) -> str:
    """The text a local item names its test by: its name, read with its order's name when the name says nothing of
    the analyte ("Result", "Interpretation:" of a "Fibrinogen Genetic Analysis"), and its context alone when it has
    no name (a code imported without one)."""
    words = tokens(term.display)
    if not words:
        return " ".join(filter(None, (term.category, term.specimen, term.units)))
    if term.category and all(word in NOISE for word in words):
        return f"{term.category} {term.display}"
    return term.display


class TargetIndex:
    def __init__(self, candidates: Iterable[Candidate], *, local_names: Sequence[str] = (),
                 drug: bool | None = None, model: RankModel | None = None,
                 corpus: MappingCorpus | None = None) -> None:
        self.candidates = list(candidates)
        self._by_code = {c.code: i for i, c in enumerate(self.candidates)}
        if drug is None:
            drug = any("TTY" in c.properties for c in self.candidates[:1000])
        self.drug = drug
        # a laboratory release teaches its own words (lexicon.py), with LOINC's readings written out for releases
        # that do not carry them (abbreviations.LAB_ATTESTED); drug names keep the pharmacy table
        self._table: Mapping[str, str] = ({**LAB, **DRUG} if drug else
                                          Words(merged(merged(derive(self.candidates), LAB_ATTESTED), LAB)))
        self._names: list[list[str]] = []
        self._words: list[frozenset[str]] = []
        for c in self.candidates:
            names: list[str] = []
            words: set[str] = set()
            for text in (c.display, *c.designations):
                folded = fold(text)
                words.update(stems(tokens(folded, folded=True)))
                if ";" in text:  # a synonym list (LOINC RELATEDNAMES2): words for coverage, not a name
                    continue
                name = expand(folded, self._table, folded=True)
                if name and name not in names:
                    names.append(name)
                    words.update(stems(name.split()))  # "Ag" is found by "antigen" too
            self._names.append(names)
            self._words.append(frozenset(words))
        self._ngrams = NgramIndex(self._names, [expand(n, self._table) for n in local_names])
        self.vocabulary = TargetVocabulary.of(self.candidates)
        self._axes = [TargetAxes.of(c, self.vocabulary, self._table) for c in self.candidates]
        self._kinds = kinds_of(self._axes, self._table)
        self._synonym_hits: list[int] = []  # during a search: the candidates carrying every searched word
        self._model = model  # None: the shipped model, read when first needed (training needs none)
        self.corpus = corpus if corpus is not None else MappingCorpus(())
        self._drug_parts = [drugs.parse(c.display) for c in self.candidates] if drug else []
        self._masks: dict[tuple[tuple[str, str], ...], NDArray[np.bool_]] = {}
        self._active = np.fromiter((c.active for c in self.candidates), dtype=np.bool_, count=len(self.candidates))

    @classmethod
    def from_candidates(cls, candidates: Iterable[Candidate], *, local_names: Sequence[str] = (),
                        drug: bool | None = None, model: RankModel | None = None,
                        corpus: MappingCorpus | None = None) -> TargetIndex:
        return cls(candidates, local_names=local_names, drug=drug, model=model, corpus=corpus)

    @property
    def model(self) -> RankModel | None:
        if self._model is None and not self.drug:
            self._model = RankModel.shipped()
        return self._model

    def set_model(self, model: RankModel) -> None:
        self._model = model

    def __len__(self) -> int:
        return len(self.candidates)

    def _allowed(self, filters: Mapping[str, str] | None) -> NDArray[np.bool_] | None:
        """The candidates a filter keeps, worked out once per filter (a review session repeats the same one)."""
        if not filters:
            return None
        key = tuple(sorted((k.lower(), v.strip().lower()) for k, v in filters.items()))
        held = self._masks.get(key)
        if held is None:
            held = self._masks[key] = self._mask(filters)
        return held

    def _mask(self, filters: Mapping[str, str]) -> NDArray[np.bool_]:
        allowed = np.ones(len(self.candidates), dtype=np.bool_)
        for key, wanted in filters.items():
            prop = _FILTER_PROPERTIES.get(key.lower())
            if prop is None:
                raise Invalid(f"unknown suggestion filter {key!r}: use one of {', '.join(_FILTER_PROPERTIES)}")
            want = wanted.strip().lower()
            for i, c in enumerate(self.candidates):
                values = c.properties.get(prop, ())
                if prop == "SYSTEM" and self._axes[i].system:
                    values = (*values, self._axes[i].system or "")
                if not any(v.lower() == want for v in values):
                    allowed[i] = False
        return allowed

    def _name_scores(self, query: str, query_words: frozenset[str], shortlist: dict[int, float]) -> dict[int, float]:
        """The drug engine's name score: n-gram cosine, rapidfuzz token-set and WRatio against the best name, and
        the share of the query's words found among the candidate's names."""
        return {index: 0.35 * m.ngram + 0.3 * m.token_set + 0.15 * m.wratio + 0.2 * m.query_coverage
                - min(UNASKED_CAP, UNASKED_WORD * m.unasked)
                for index, m in self._name_measures(query, query_words, shortlist).items()}

    def _name_measures(self, query: str, query_words: frozenset[str], shortlist: dict[int, float],
                       asked: tuple[frozenset[str], ...] | None = None) -> dict[int, NameScores]:
        """Name similarities of each shortlisted candidate: against its best name (scored in one C call over all
        names) and against its component alone (local names seldom spell out system and method)."""
        if not shortlist:
            return {}
        if asked is None:
            asked = tuple(frozenset({word}) for word in sorted(query_words))
        owners: list[int] = []
        names: list[str] = []
        for index in shortlist:
            for name in self._names[index]:
                owners.append(index)
                names.append(name)
        listed = list(shortlist)
        components = [self._axes[i].component for i in listed]
        best: dict[int, tuple[float, float]] = {}
        if names:
            token_set = process.cdist([query], names, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
            weighted = process.cdist([query], names, scorer=fuzz.WRatio, dtype=np.float32)[0]
            for owner, a, b in zip(owners, token_set.tolist(), weighted.tolist(), strict=True):
                held = best.get(owner)
                best[owner] = (a, b) if held is None else (max(a, held[0]), max(b, held[1]))
        part_set = process.cdist([query], components, scorer=fuzz.token_set_ratio, dtype=np.float32)[0].tolist()
        part_weighted = process.cdist([query], components, scorer=fuzz.WRatio, dtype=np.float32)[0].tolist()
        out: dict[int, NameScores] = {}
        for n, index in enumerate(listed):
            a, b = best.get(index, (0.0, 0.0))
            parts = self._axes[index].component_readings
            parts_asked = sum(1 for part in parts if part & query_words)
            out[index] = NameScores(
                shortlist[index], a / 100, b / 100,
                part_set[n] / 100, part_weighted[n] / 100,
                sum(1 for said in asked if said & self._words[index]) / len(asked) if asked else 0.0,
                parts_asked / len(parts) if parts else 0.0, len(parts) - parts_asked)
        return out

    def _shortlist(self, query: str, text: str, allowed: NDArray[np.bool_] | None,
                   evidence: Mapping[str, Sequence[tuple[str, int]]] | None
                   ) -> tuple[dict[int, float], dict[int, int], dict[int, Neighbourhood]]:
        """Candidates worth measuring: the n-gram retrieval's best, the targets earlier approvals of the same local
        name chose, and the targets of close names in the mapping corpus."""
        shortlist = dict(self._ngrams.top(query, SHORTLIST, allowed))
        for found in self._synonym_hits:
            if allowed is None or allowed[found]:
                shortlist.setdefault(found, 0.0)
        approved: dict[int, int] = {}
        for code, times in (evidence or {}).get(evidence_key(text), ()):
            chosen = self._by_code.get(code)
            if chosen is not None and (allowed is None or allowed[chosen]):
                approved[chosen] = approved.get(chosen, 0) + times
                shortlist.setdefault(chosen, 0.0)
        neighbours: dict[int, Neighbourhood] = {}
        if not self.drug:
            for code, hood in self.corpus.evidence(text).items():
                near = self._by_code.get(code)
                if near is not None and (allowed is None or allowed[near]):
                    neighbours[near] = hood
                    shortlist.setdefault(near, 0.0)
        return shortlist, approved, neighbours

    def _measure(self, term: LocalTerm, filters: Mapping[str, str] | None,
                 evidence: Mapping[str, Sequence[tuple[str, int]]] | None
                 ) -> tuple[list[int], NDArray[np.float32], list[list[str]], dict[int, int]]:
        """Each candidate's feature row and reasons, for the model."""
        said = without_noise(canonical(_said(term)))
        query = expand(said, self._table)
        query_words = stems(tokens(query))
        shortlist, approved, neighbours = self._shortlist(query, term.display, self._allowed(filters), evidence)
        local = LocalAxes.of(term, self.vocabulary, self._table, self._kinds)
        indices: list[int] = []
        rows: list[list[float]] = []
        reasons: list[list[str]] = []
        asked = readings(said, self._table)
        for index, measured in self._name_measures(query, query_words, shortlist, asked).items():
            values, why = pair_features(local, self._axes[index], self.vocabulary, measured, neighbours.get(index),
                                        self._kinds)
            indices.append(index)
            rows.append(values)
            reasons.append([f"name {measured.token_set:.2f}", *why])
        return indices, np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURES)), reasons, approved

    def features(self, term: LocalTerm) -> tuple[list[str], NDArray[np.float32]]:
        """The shortlisted candidates' codes and feature rows for a local item (training and evaluation)."""
        indices, x, _, _ = self._measure(term, None, None)
        return [self.candidates[i].code for i in indices], x

    def _rank_learned(self, term: LocalTerm, top: int, filters: Mapping[str, str] | None,
                      evidence: Mapping[str, Sequence[tuple[str, int]]] | None) -> list[Suggestion]:
        """The model's probability that a candidate is the mapping; targets earlier approvals of the same local name
        chose come first (a reviewer's decision is not a feature to outweigh)."""
        assert self.model is not None
        indices, x, reasons, approved = self._measure(term, filters, evidence)
        if not indices:
            return []
        probability = self.model.score(x)
        allowed = self._allowed(filters)
        scored: dict[int, _Scored] = {}
        for index, p, why in zip(indices, probability.tolist(), reasons, strict=True):
            if index in approved:
                why = [*why, f"approved {approved[index]}x before"]
            self._keep(scored, index, p, why, allowed)
        ordered = sorted(scored.values(), key=lambda s: (-min(approved.get(s.index, 0), 99), -s.raw,
                                                         self.candidates[s.index].code))[:top]
        return [Suggestion(self.candidates[s.index].code, self.candidates[s.index].display, round(s.raw, 4),
                           "; ".join(s.reasons)) for s in ordered]

    def _rank(self, text: str, top: int, filters: Mapping[str, str] | None, term: LocalTerm | None,
              evidence: Mapping[str, Sequence[tuple[str, int]]] | None) -> list[Suggestion]:
        if not self.drug and self.model is not None:
            return self._rank_learned(term or LocalTerm(text, text), top, filters, evidence)
        query = expand(without_noise(canonical(text)), self._table)
        query_words = stems(tokens(query))
        allowed = self._allowed(filters)
        shortlist, approved, _ = self._shortlist(query, text, allowed, evidence)
        local_drug = drugs.parse(text) if self.drug else None
        scored: dict[int, _Scored] = {}
        for index, raw in self._name_scores(query, query_words, shortlist).items():
            reasons = [f"name {raw:.2f}"]
            if local_drug is not None:
                extra, why = drugs.compare(local_drug, self._drug_parts[index])
                raw += extra
                reasons += why
                ttys = set(self.candidates[index].properties.get("TTY", ()))
                if ttys and local_drug.strengths:
                    raw += 0.03 if ttys & _PREFERRED_TTY else -0.03
            if index in approved:
                raw += EVIDENCE_BOOST + 0.02 * min(approved[index], 5)
                reasons.append(f"approved {approved[index]}x before")
            self._keep(scored, index, raw, reasons, allowed)
        ordered = sorted(scored.values(), key=lambda s: (-s.raw, self.candidates[s.index].code))[:top]
        return [Suggestion(self.candidates[s.index].code, self.candidates[s.index].display,
                           round(min(1.0, max(0.0, s.raw)), 4), "; ".join(s.reasons)) for s in ordered]

    def _keep(self, scored: dict[int, _Scored], index: int, raw: float, reasons: list[str],
              allowed: NDArray[np.bool_] | None) -> None:
        """Keep an active candidate's best score; an inactive one hands its score to its active replacements."""
        candidate = self.candidates[index]
        targets = [index] if candidate.active else [
            self._by_code[code] for code in candidate.replaced_by
            if code in self._by_code and self._active[self._by_code[code]]
            and (allowed is None or allowed[self._by_code[code]])]
        for target in targets:
            why = reasons if target == index else [*reasons, f"replaces inactive {candidate.code}"]
            held = scored.get(target)
            if held is None or raw > held.raw:
                scored[target] = _Scored(target, raw, why)

    def suggest(self, term: LocalTerm, *, top: int = 10, filters: Mapping[str, str] | None = None,
                evidence: Mapping[str, Sequence[tuple[str, int]]] | None = None) -> list[Suggestion]:
        """The best `top` targets for a local code, best first, each with its score and why."""
        return self._rank(term.display, top, filters, term, evidence)

    def search(self, text: str, *, top: int = 10) -> list[Suggestion]:
        """Free-text search over the targets' names and synonyms (LOINC's RELATEDNAMES2, consumer and display
        names: the reviewer's search key), no context."""
        self._synonym_hits = self._by_synonym(stems(tokens(text)))
        try:
            matching = {self.candidates[i].code for i in self._synonym_hits}
            found = self._rank(text, SHORTLIST + len(matching), None, None, None)  # all it scored
        finally:
            self._synonym_hits = []
        # a reviewer's search asks for terms that carry every word searched for, in a name or a synonym: those come
        # first, however the model scores the rest of their names
        return sorted(found, key=lambda s: s.target_code not in matching)[:top]

    def _by_synonym(self, words: frozenset[str], limit: int = SHORTLIST) -> list[int]:
        """Candidates with every searched word among their names' and synonyms' words (one pass over the words
        kept per candidate: tens of milliseconds on a full release)."""
        found: list[int] = []
        for index, mine in enumerate(self._words):
            if words <= mine:
                found.append(index)
                if len(found) >= limit:
                    break
        return found
