"""A local item's LOINC axes as it states them, a candidate's axes as LOINC gives them, and the feature vector of
one (item, candidate) pair that the learned model scores. Features are measurements, never bonuses: the model
learns how much each is worth (learned.py), and the explanation names the axes that matched or conflicted."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from termsvc.workbench.suggest.abbreviations import ALL
from termsvc.workbench.suggest.axes import scale_hint
from termsvc.workbench.suggest.model import Candidate, LocalTerm
from termsvc.workbench.suggest.neighbours import Neighbourhood
from termsvc.workbench.suggest.normalise import canonical, expand, fold, stems, tokens, without_noise
from termsvc.workbench.suggest.units import unit_properties
from termsvc.workbench.suggest.vocabulary import (
    TargetVocabulary,
    blood_fraction,
    duration_minutes,
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
    "sys_stated", "sys_exact", "sys_overlap", "sys_conflict", "sys_many", "sys_covers", "order_exact", "order_overlap",
    "order_conflict", "cand_blood_fraction",
    "cand_blood", "cand_unspecified", "cand_no_system",
    "scale_stated", "scale_agree", "scale_conflict", "method_overlap", "cand_has_method",
    "timing_agree", "timing_conflict", "timing_differs", "rank", "ranked", "discouraged",
    "neighbour_best", "neighbour_weight", "neighbour_share",
    "kind_stated", "kind_agree", "kind_conflict",
)
# a component's head word is a kind of analyte ("Ag", "Ab", "RNA", "gene") when the release puts it after this many
# analytes that it also names with another head: LOINC's own naming, read from the loaded names
KIND_ANALYTES: Final = 3
_SUB_PART: Final = re.compile(r"(?<!sup)\([^)]*\)|\.[A-Za-z].*$")  # not a superscript: "Fy sup(a)"


@dataclass(frozen=True)
class TargetAxes:
    """A candidate's axes, worked out once when the index is built."""

    component: str
    component_words: frozenset[str]
    # each component word with what it stands for in the lexicon ("ag": {"ag", "antigen"}): a local name asks for
    # the word when it says either ("nucleoprotein antigen" asks for "Ag")
    component_readings: tuple[frozenset[str], ...]
    prop: str | None
    system: str | None
    timing: int | None  # the collection period in minutes (duration_minutes); None for a point in time
    scale: str | None
    method_words: frozenset[str]
    rank: int
    discouraged: bool
    head: str | None  # the component's last word when it names a kind of analyte (kinds_of): "ag", "rna", ...
    analyte: str | None  # the words before it

    @classmethod
    def of(cls, candidate: Candidate, vocabulary: TargetVocabulary, words: Mapping[str, str] = ALL) -> TargetAxes:
        component, word, phrase, timed, method = split_long_name(candidate.display)
        component = candidate.first("COMPONENT") or component
        period = duration_minutes(candidate.first("TIME_ASPCT") or timed)
        prop = vocabulary.property_of(candidate, word, component)
        scale = candidate.first("SCALE_TYP") or (
            None if prop is None else "Ord" if relation(prop) in _ORDINAL_RELATIONS else "Qn")
        method = candidate.first("METHOD_TYP") or method
        rank_text = candidate.first("COMMON_TEST_RANK") or "0"
        expanded = expand(component, words)
        head, analyte = component_head(component)
        # the component's own words (not their expansions): what a local name would have to say to ask for them
        own = frozenset(tokens(without_noise(fold(component)), folded=True))
        readings = tuple(stems(_reading(w, words)) for w in sorted(own))
        return cls(expanded, own, readings, prop,
                   vocabulary.system_phrase(candidate, phrase), period, scale,
                   stems(tokens(expand(method, words))) if method else frozenset(),
                   int(rank_text) if rank_text.isdecimal() else 0,
                   (candidate.first("STATUS") or "").upper() == "DISCOURAGED", head, analyte)


@dataclass(frozen=True)
class LocalAxes:
    """What a local item states about the LOINC axes, worked out once per item."""

    properties: frozenset[str]
    systems: frozenset[str]
    order_systems: frozenset[str]  # stated by the order (category) the item belongs to: weaker, often a panel's
    scale: str | None
    timing: int | None  # minutes, as TargetAxes.timing
    words: frozenset[str]
    kinds: frozenset[str]  # kinds of analyte the name or its order states ("antigen" in "RBC Antigen Typing": ag)

    @classmethod
    def of(cls, term: LocalTerm, vocabulary: TargetVocabulary, words: Mapping[str, str] = ALL,
           kinds: Mapping[str, frozenset[str]] | None = None) -> LocalAxes:
        systems = vocabulary.systems_in(" ".join(filter(None, (term.display, term.specimen))))
        order_systems = vocabulary.systems_in(term.category)
        props = unit_properties(term.units)
        answers = term.extra.get("result") or term.extra.get("answers")
        scale = scale_hint(answers) or ("Qn" if props else None)
        context = " ".join(filter(None, (term.display, term.specimen, term.category, term.extra.get("method"),
                                         term.extra.get("device"))))
        timing = local_timing(" ".join(filter(None, (term.display, term.specimen, term.category))), term.units)
        said = frozenset(tokens(expand(" ".join(filter(None, (term.display, term.category))), words)))
        marked = {_kind_stem(w) for w in said}
        stated = frozenset(k for k, marks in (kinds or {}).items() if marks & marked)
        return cls(props, systems, order_systems, scale, timing, stems(tokens(expand(context, words))), stated)


def _reading(word: str, words: Mapping[str, str]) -> set[str]:
    """A component word and what it stands for; an entry that repeats the word adds what kind of thing it is ("IgG":
    "igg antibody"), which a name saying only "antibodies" does not ask for."""
    said = tokens(words.get(word, ""))
    return {word} if word in said else {word, *said}


def _period(minutes: int | None) -> str:
    if minutes is None:
        return "point in time"
    if minutes == 0:
        return "unstated period"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def component_head(component: str) -> tuple[str | None, str | None]:
    """(last word, the words before it) of a component's first part, sub-parts and parentheses dropped:
    "SARS-CoV-2 (COVID-19) Ag" -> ("ag", "sars-cov-2"), "Fy sup(a) Ab.IgG" -> ("ab", "fya")."""
    words = canonical(_SUB_PART.sub(" ", component)).split()
    return (words[-1], " ".join(words[:-1])) if len(words) >= 2 else (None, None)


def _kind_stem(word: str) -> str:
    return word[:5]  # antigen meets antigens, antibody antibodies


def kinds_of(axes: Iterable[TargetAxes], words: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Kinds of analyte the release names ("ag": antigen, "ab": antibody, "rna", "gene"): head words that follow
    many analytes the release also names with another head (SARS-CoV-2 Ag, RNA and Ab; E Ag and E Ab). Each maps
    to the stems a local text marks it with: itself and what it stands for."""
    heads: defaultdict[str, set[str]] = defaultdict(set)
    for axis in axes:
        if axis.head and axis.analyte and axis.prop:  # measured terms only: not "XR Knee AP and lateral"
            heads[axis.analyte].add(axis.head)
    shared: defaultdict[str, int] = defaultdict(int)
    for seen in heads.values():
        if len(seen) >= 2:
            for head in seen:
                shared[head] += 1
    return {head: frozenset(_kind_stem(w) for w in {head, *tokens(words.get(head, ""))} if len(w) >= 2)
            for head, count in shared.items() if count >= KIND_ANALYTES}


def pair_features(local: LocalAxes, target: TargetAxes, vocabulary: TargetVocabulary, names: NameScores,
                  neighbour: Neighbourhood | None,
                  kinds: Mapping[str, frozenset[str]] | None = None) -> tuple[list[float], list[str]]:
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
    # a period stated on one side only is a conflict; two stated periods that differ are a worse one (a 24-hour
    # urine is not a 12-hour urine); a timed term of unstated length (0) agrees with neither
    timing_agree = float(local.timing is not None and local.timing == target.timing)
    timing_conflict = float((local.timing is None) != (target.timing is None))
    timing_differs = float(local.timing is not None and target.timing is not None and local.timing != target.timing)
    if timing_agree:
        reasons.append(f"timing {_period(target.timing)}")
    elif timing_differs or timing_conflict:
        reasons.append(f"timing conflict {_period(target.timing)}")
    rank = max(0.0, 1.0 - math.log(target.rank) / _RANK_SPAN) if target.rank > 0 else 0.0
    if neighbour is not None:
        reasons.append(f"mapped elsewhere ({neighbour.best:.2f})")
    kind = target.head if target.head in (kinds or {}) else None
    kind_agree = float(bool(kind and kind in local.kinds))
    kind_conflict = float(bool(kind and local.kinds and kind not in local.kinds))
    if kind_agree:
        reasons.append(f"analyte {kind}")
    elif kind_conflict:
        reasons.append(f"analyte conflict {kind}")
    values = [
        names.ngram, names.token_set, names.wratio, names.component_token_set,
        names.component_wratio, names.query_coverage, names.component_coverage, float(names.unasked),
        float(len(target.component_words)),
        float(bool(local.properties)), prop_exact, prop_relation, prop_conflict,
        float(bool(local.systems)), float(match.exact), float(match.overlap), float(match.conflict),
        float(len(local.systems) >= 2), match.covers, float(order.exact), float(order.overlap), float(order.conflict),
        float(blood_fraction(target.system)),
        float(bool(target.system) and "blood" in (target.system or "").split()), float(unspecified(target.system)),
        float(target.system is None),
        float(local.scale is not None), scale_agree, scale_conflict, method_overlap, float(bool(target.method_words)),
        timing_agree, timing_conflict, timing_differs, rank, float(target.rank > 0), float(target.discouraged),
        neighbour.best if neighbour else 0.0, min(5.0, neighbour.weight) if neighbour else 0.0,
        neighbour.share if neighbour else 0.0,
        float(bool(local.kinds)), kind_agree, kind_conflict,
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
