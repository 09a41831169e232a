"""A local item's LOINC axes as it states them, a candidate's axes as LOINC gives them, and the feature vector of
one (item, candidate) pair that the learned model scores. Features are measurements, never bonuses: the model
learns how much each is worth (learned.py), and the explanation names the axes that matched or conflicted."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from termsvc.workbench.suggest.abbreviations import ALL
from termsvc.workbench.suggest.axes import scale_hint
from termsvc.workbench.suggest.model import Candidate, LocalTerm
from termsvc.workbench.suggest.neighbours import Neighbourhood
from termsvc.workbench.suggest.normalise import expand, fold, tokens, without_noise
from termsvc.workbench.suggest.units import unit_properties
from termsvc.workbench.suggest.vocabulary import (
    TargetVocabulary,
    blood_fraction,
    local_timing,
    relation,
    split_long_name,
    unspecified,
)

_ORDINAL_RELATIONS: Final = frozenset({"Thr", "Prid", "Find", "Imp", "Type", "Aper", "Susc"})
_RANK_SPAN: Final = math.log(30_000)

FEATURES: Final[tuple[str, ...]] = (
    "ngram", "token_set", "wratio", "component_token_set", "component_wratio",
    "query_coverage", "component_coverage", "unasked_words", "name_words",
    "prop_stated", "prop_exact", "prop_relation", "prop_conflict",
    "sys_stated", "sys_exact", "sys_overlap", "sys_conflict", "sys_many", "order_exact", "order_overlap",
    "order_conflict", "cand_blood_fraction",
    "cand_blood", "cand_unspecified", "cand_no_system",
    "scale_stated", "scale_agree", "scale_conflict", "method_overlap", "cand_has_method",
    "timing_agree", "timing_conflict", "rank", "ranked", "discouraged",
    "neighbour_best", "neighbour_weight",
)


@dataclass(frozen=True)
class TargetAxes:
    """A candidate's axes, worked out once when the index is built."""

    component: str
    component_words: frozenset[str]
    prop: str | None
    system: str | None
    timing: str | None
    scale: str | None
    method_words: frozenset[str]
    rank: int
    discouraged: bool

    @classmethod
    def of(cls, candidate: Candidate, vocabulary: TargetVocabulary, words: Mapping[str, str] = ALL) -> TargetAxes:
        component, word, phrase, timing, method = split_long_name(candidate.display)
        component = candidate.first("COMPONENT") or component
        prop = vocabulary.property_of(candidate, word, component)
        scale = candidate.first("SCALE_TYP") or (
            None if prop is None else "Ord" if relation(prop) in _ORDINAL_RELATIONS else "Qn")
        method = candidate.first("METHOD_TYP") or method
        rank_text = candidate.first("COMMON_TEST_RANK") or "0"
        expanded = expand(component, words)
        # the component's own words (not their expansions): what a local name would have to say to ask for them
        return cls(expanded, frozenset(tokens(without_noise(fold(component)), folded=True)), prop,
                   vocabulary.system_phrase(candidate, phrase), timing, scale,
                   frozenset(tokens(expand(method, words))) if method else frozenset(),
                   int(rank_text) if rank_text.isdecimal() else 0,
                   (candidate.first("STATUS") or "").upper() == "DISCOURAGED")


@dataclass(frozen=True)
class LocalAxes:
    """What a local item states about the LOINC axes, worked out once per item."""

    properties: frozenset[str]
    systems: frozenset[str]
    order_systems: frozenset[str]  # stated by the order (category) the item belongs to: weaker, often a panel's
    scale: str | None
    timing: str | None
    words: frozenset[str]

    @classmethod
    def of(cls, term: LocalTerm, vocabulary: TargetVocabulary, words: Mapping[str, str] = ALL) -> LocalAxes:
        systems = vocabulary.systems_in(" ".join(filter(None, (term.display, term.specimen))))
        order_systems = vocabulary.systems_in(term.category)
        props = unit_properties(term.units)
        answers = term.extra.get("result") or term.extra.get("answers")
        scale = scale_hint(answers) or ("Qn" if props else None)
        context = " ".join(filter(None, (term.display, term.specimen, term.category, term.extra.get("method"),
                                         term.extra.get("device"))))
        timing = local_timing(" ".join(filter(None, (term.display, term.specimen, term.category))))
        return cls(props, systems, order_systems, scale, timing, frozenset(tokens(expand(context, words))))


def pair_features(local: LocalAxes, target: TargetAxes, vocabulary: TargetVocabulary, names: NameScores,
                  neighbour: Neighbourhood | None) -> tuple[list[float], list[str]]:
    """The feature vector (in FEATURES order) and the reviewer's reasons."""
    reasons: list[str] = []
    prop_exact = prop_relation = prop_conflict = 0.0
    if local.properties and target.prop:
        if target.prop in local.properties:
            prop_exact = 1.0
            reasons.append(f"units->{target.prop}")
        elif relation(target.prop) in {relation(p) for p in local.properties}:
            prop_relation = 1.0
            reasons.append(f"units~{target.prop}")
        else:
            prop_conflict = 1.0
            reasons.append(f"units conflict {target.prop}")
    match = vocabulary.compare(local.systems, target.system)
    order = vocabulary.compare(local.order_systems, target.system)
    if match.exact:
        reasons.append(f"system {target.system}")
    elif match.overlap:
        reasons.append(f"system ~{target.system}")
    elif match.conflict:
        reasons.append(f"system conflict {target.system}")
    elif order.exact or order.overlap:
        reasons.append(f"order's system ~{target.system}")
    scale_agree = float(bool(local.scale and target.scale and local.scale == target.scale))
    scale_conflict = float(bool(local.scale and target.scale in {"Ord", "Qn"} and local.scale != target.scale))
    if scale_agree:
        reasons.append(f"scale {target.scale}")
    elif scale_conflict:
        reasons.append(f"scale conflict {target.scale}")
    method_overlap = (len(target.method_words & local.words) / len(target.method_words)
                      if target.method_words else 0.0)
    if method_overlap >= 0.5:
        reasons.append("method")
    timing_agree = float(bool(local.timing and target.timing and local.timing.split()[0] == target.timing.split()[0]))
    timing_conflict = float(bool(local.timing) != bool(target.timing))
    rank = max(0.0, 1.0 - math.log(target.rank) / _RANK_SPAN) if target.rank > 0 else 0.0
    if neighbour is not None:
        reasons.append(f"mapped elsewhere ({neighbour.best:.2f})")
    values = [
        names.ngram, names.token_set, names.wratio, names.component_token_set,
        names.component_wratio, names.query_coverage, names.component_coverage, float(names.unasked),
        float(len(target.component_words)),
        float(bool(local.properties)), prop_exact, prop_relation, prop_conflict,
        float(bool(local.systems)), float(match.exact), float(match.overlap), float(match.conflict),
        float(len(local.systems) >= 2), float(order.exact), float(order.overlap), float(order.conflict),
        float(blood_fraction(target.system)),
        float(bool(target.system) and "blood" in (target.system or "").split()), float(unspecified(target.system)),
        float(target.system is None),
        float(local.scale is not None), scale_agree, scale_conflict, method_overlap, float(bool(target.method_words)),
        timing_agree, timing_conflict, rank, float(target.rank > 0), float(target.discouraged),
        neighbour.best if neighbour else 0.0, min(5.0, neighbour.weight) if neighbour else 0.0,
    ]
    return values, reasons


@dataclass(frozen=True)
class NameScores:
    ngram: float
    token_set: float
    wratio: float
    component_token_set: float
    component_wratio: float
    query_coverage: float
    component_coverage: float
    unasked: int
