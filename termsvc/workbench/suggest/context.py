"""Context used for ranking, not just shown: what the local code's units, specimen, answers and method say about
the target's LOINC axes, and the small prior of LOINC's common test rank. Each rule returns a score adjustment
with a reason a reviewer can read."""

from __future__ import annotations

import math
from dataclasses import dataclass

from termsvc.workbench.suggest.axes import (
    candidate_method,
    candidate_property,
    candidate_scale,
    candidate_system,
    method_hints,
    scale_hint,
)
from termsvc.workbench.suggest.model import Candidate, LocalTerm
from termsvc.workbench.suggest.specimen import specimen_systems
from termsvc.workbench.suggest.units import unit_properties

_RANK_SPAN = math.log(30_000)  # COMMON_TEST_RANK runs to about 20,000 ranked terms


@dataclass(frozen=True)
class TargetAxes:
    """A candidate's axes, worked out once when the index is built."""

    prop: str | None
    system: str | None
    scale: str | None
    method: str
    rank: int
    discouraged: bool

    @classmethod
    def of(cls, candidate: Candidate) -> TargetAxes:
        rank_text = candidate.first("COMMON_TEST_RANK") or "0"
        status = (candidate.first("STATUS") or "").upper()
        return cls(candidate_property(candidate), candidate_system(candidate), candidate_scale(candidate),
                   candidate_method(candidate), int(rank_text) if rank_text.isdigit() else 0,
                   status == "DISCOURAGED")


@dataclass(frozen=True)
class LocalContext:
    """What a local code's context says, worked out once per query."""

    units: str | None
    properties: frozenset[str]
    specimen: str | None
    strong_systems: frozenset[str]
    loose_systems: frozenset[str]
    scale: str | None
    methods: tuple[str, ...]

    @classmethod
    def of(cls, term: LocalTerm) -> LocalContext:
        strong, loose = specimen_systems(term.specimen)
        answers = term.extra.get("result") or term.extra.get("answers")
        method_text = " ".join(filter(None, (term.display, term.category, term.extra.get("method"),
                                             term.extra.get("device"))))
        return cls(term.units, unit_properties(term.units), term.specimen, strong, loose, scale_hint(answers),
                   method_hints(method_text))


def adjust(local: LocalContext, target: TargetAxes) -> tuple[float, list[str]]:
    total = 0.0
    reasons: list[str] = []
    if local.properties and target.prop:
        if target.prop in local.properties:
            total += 0.12
            reasons.append(f"units {local.units}->{target.prop}")
        else:
            total -= 0.12
            reasons.append(f"units {local.units} do not fit {target.prop}")
    if (local.strong_systems or local.loose_systems) and target.system:
        if target.system in local.strong_systems:
            total += 0.10
            reasons.append(f"specimen->{target.system}")
        elif target.system in local.loose_systems:
            total += 0.03
            reasons.append(f"specimen fits {target.system} loosely")
        else:
            total -= 0.08
            reasons.append(f"specimen does not fit {target.system}")
    if local.scale and target.scale:
        if target.scale == local.scale:
            total += 0.05
            reasons.append(f"answers->{target.scale}")
        elif target.scale in {"Ord", "Qn"}:
            total -= 0.06
    if local.methods and target.method:
        if any(word in target.method for word in local.methods):
            total += 0.04
            reasons.append(f"method {target.method}")
        else:
            total -= 0.02
    if target.rank > 0:
        total += 0.03 * max(0.0, 1.0 - math.log(target.rank) / _RANK_SPAN)
        reasons.append(f"common test rank {target.rank}")
    if target.discouraged:
        total -= 0.03
        reasons.append("discouraged")
    return total, reasons
