"""TargetIndex: retrieve a shortlist by n-gram TF-IDF, re-score it with rapidfuzz on abbreviation-expanded names,
then let context (units, specimen, answers, method, drug strength and form, common test rank) and earlier
approvals order it. Inactive targets are never suggested; a match on one suggests its replacement instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from termsvc.errors import Invalid
from termsvc.workbench.suggest import drugs
from termsvc.workbench.suggest.abbreviations import DRUG, LAB
from termsvc.workbench.suggest.context import LocalContext, TargetAxes, adjust
from termsvc.workbench.suggest.model import Candidate, LocalTerm, Suggestion
from termsvc.workbench.suggest.ngram import NgramIndex
from termsvc.workbench.suggest.normalise import canonical, evidence_key, expand, fold, tokens, without_noise

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


class TargetIndex:
    def __init__(self, candidates: Iterable[Candidate], *, local_names: Sequence[str] = (),
                 drug: bool | None = None) -> None:
        self.candidates = list(candidates)
        self._by_code = {c.code: i for i, c in enumerate(self.candidates)}
        if drug is None:
            drug = any("TTY" in c.properties for c in self.candidates[:1000])
        self.drug = drug
        self._table = {**LAB, **DRUG} if drug else {**DRUG, **LAB}
        self._names: list[list[str]] = []
        self._words: list[frozenset[str]] = []
        for c in self.candidates:
            names: list[str] = []
            words: set[str] = set()
            for text in (c.display, *c.designations):
                folded = fold(text)
                words.update(tokens(folded, folded=True))
                if ";" in text:  # a synonym list (LOINC RELATEDNAMES2): words for coverage, not a name
                    continue
                name = expand(folded, self._table, folded=True)
                if name and name not in names:
                    names.append(name)
            self._names.append(names)
            self._words.append(frozenset(words))
        self._ngrams = NgramIndex(self._names, [expand(n, self._table) for n in local_names])
        self._axes = [TargetAxes.of(c) for c in self.candidates]
        self._drug_parts = [drugs.parse(c.display) for c in self.candidates] if drug else []
        self._components: dict[int, str] = {}
        self._masks: dict[tuple[tuple[str, str], ...], NDArray[np.bool_]] = {}
        self._active = np.fromiter((c.active for c in self.candidates), dtype=np.bool_, count=len(self.candidates))

    @classmethod
    def from_candidates(cls, candidates: Iterable[Candidate], *, local_names: Sequence[str] = (),
                        drug: bool | None = None) -> TargetIndex:
        return cls(candidates, local_names=local_names, drug=drug)

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
                if prop == "SYSTEM" and not values and self._axes[i].system:
                    values = (self._axes[i].system or "",)
                if not any(v.lower() == want for v in values):
                    allowed[i] = False
        return allowed

    def _name_scores(self, query: str, query_words: frozenset[str], shortlist: dict[int, float]) -> dict[int, float]:
        """Name score of each shortlisted candidate: n-gram cosine, rapidfuzz token-set and WRatio against its best
        name (scored in one C call over all names), and the share of the query's words found among its names."""
        owners: list[int] = []
        names: list[str] = []
        for index in shortlist:
            for name in (*self._names[index], self._component(index)):
                owners.append(index)
                names.append(name)
        if not names:
            return {}
        token_set = process.cdist([query], names, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
        weighted = process.cdist([query], names, scorer=fuzz.WRatio, dtype=np.float32)[0]
        best: dict[int, tuple[float, float]] = {}
        for owner, a, b in zip(owners, token_set.tolist(), weighted.tolist(), strict=True):
            held = best.get(owner)
            best[owner] = (a, b) if held is None else (max(a, held[0]), max(b, held[1]))
        out: dict[int, float] = {}
        for index, cosine in shortlist.items():
            a, b = best.get(index, (0.0, 0.0))
            words = self._words[index]
            coverage = len(query_words & words) / len(query_words) if query_words else 0.0
            unasked = len(self._component_words(index) - query_words)
            out[index] = (0.35 * cosine + 0.3 * a / 100 + 0.15 * b / 100 + 0.2 * coverage
                          - min(UNASKED_CAP, UNASKED_WORD * unasked))
        return out

    def _component(self, index: int) -> str:
        """What a target measures: a LOINC long name before its [property] (local names seldom spell out system
        and method, which context scores instead), else the whole display; expanded like every name."""
        held = self._components.get(index)
        if held is None:
            display = self.candidates[index].display
            held = expand(display.split("[", 1)[0] if "[" in display else display, self._table)
            self._components[index] = held
        return held

    def _component_words(self, index: int) -> frozenset[str]:
        """The component's words beyond noise: when the local name does not ask for them (a gene, a subtype), the
        plainer target should come first."""
        return frozenset(tokens(without_noise(self._component(index)), folded=True))

    def _rank(self, text: str, top: int, filters: Mapping[str, str] | None, term: LocalTerm | None,
              evidence: Mapping[str, Sequence[tuple[str, int]]] | None) -> list[Suggestion]:
        query = expand(without_noise(canonical(text)), self._table)
        query_words = frozenset(tokens(query))
        allowed = self._allowed(filters)
        shortlist = dict(self._ngrams.top(query, SHORTLIST, allowed))
        approved: dict[int, int] = {}
        for code, times in (evidence or {}).get(evidence_key(text), ()):
            index = self._by_code.get(code)
            if index is not None and (allowed is None or allowed[index]):
                approved[index] = approved.get(index, 0) + times
                shortlist.setdefault(index, 0.0)
        local = LocalContext.of(term) if term is not None else None
        local_drug = drugs.parse(text) if self.drug else None
        scored: dict[int, _Scored] = {}
        for index, raw in self._name_scores(query, query_words, shortlist).items():
            reasons = [f"name {raw:.2f}"]
            if local is not None:
                extra, why = adjust(local, self._axes[index])
                raw += extra
                reasons += why
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
        """Free-text search over the targets' names (the reviewer's search key): names only, no context."""
        return self._rank(text, top, None, None, None)
