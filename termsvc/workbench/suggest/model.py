"""The value types of the suggestion engine: what a local code carries, what a target candidate carries, and
what a suggestion says. Plain frozen dataclasses so the workbench, the store reader and the evaluation share them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LocalTerm:
    """A local code with the context the lab's file gave (units, specimen, category, how often it was seen).
    `extra` keeps any other column; a "result" entry (the answers seen, e.g. "Detected; Not detected") hints at
    the LOINC scale."""

    code: str
    display: str
    units: str | None = None
    specimen: str | None = None
    category: str | None = None
    count: int = 0
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Suggestion:
    target_code: str
    target_display: str
    score: float  # 0..1, higher is better
    explanation: str


@dataclass(frozen=True)
class Candidate:
    """A target concept as the ranker sees it. `properties` maps a property code (LOINC PROPERTY, SYSTEM, SCALE_TYP,
    CLASS, COMMON_TEST_RANK, MAP_TO; RxNorm TTY, ...) to its values; axis values are LOINC's abbreviations (MCnc,
    Ser/Plas), not part codes. `replaced_by` names active replacements of an inactive concept (LOINC MAP_TO,
    RxNorm remapped_to)."""

    code: str
    display: str
    designations: tuple[str, ...] = ()
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    active: bool = True
    replaced_by: tuple[str, ...] = ()

    def first(self, prop: str) -> str | None:
        values = self.properties.get(prop)
        return values[0] if values else None
