"""What the server offers, declared once by each router and read by `metadata`, so the
CapabilityStatement lists exactly what is mounted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ResourceCapability:
    type: str
    interactions: list[str] = field(default_factory=list)
    search_params: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    operations: list[str] = field(default_factory=list)  # e.g. "lookup", "validate-code"
    # other CapabilityStatement.rest.resource elements, e.g. {"conditionalUpdate": True}
    extras: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, ResourceCapability] = {}
SYSTEM_OPERATIONS: list[str] = []
# whole-system interactions (CapabilityStatement.rest.interaction), e.g. "batch"
SYSTEM_INTERACTIONS: list[str] = []
# CapabilityStatement.rest.security, when a router sets it (termsvc.api.routers.writes: SMART / OAuth)
SECURITY: dict[str, Any] = {}


def declare(capability: ResourceCapability) -> ResourceCapability:
    existing = REGISTRY.get(capability.type)
    if existing is None:
        REGISTRY[capability.type] = capability
        return capability
    for interaction in capability.interactions:
        if interaction not in existing.interactions:
            existing.interactions.append(interaction)
    for param in capability.search_params:
        if param not in existing.search_params:
            existing.search_params.append(param)
    for op in capability.operations:
        if op not in existing.operations:
            existing.operations.append(op)
    existing.extras.update(capability.extras)
    return existing
