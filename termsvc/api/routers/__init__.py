"""One router per resource. Each module declares its capabilities when imported."""

from __future__ import annotations

from fastapi import APIRouter

from termsvc.api.routers import (
    auditevent,
    batch,
    codesystem,
    conceptmap,
    metadata,
    subsumes,
    valueset,
    writes,
)

ROUTERS: list[APIRouter] = [metadata.router, subsumes.router, codesystem.router, valueset.router,
                            conceptmap.router, batch.router, writes.router, auditevent.router]
