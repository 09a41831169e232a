"""CodeSystem: read, search, $lookup, $validate-code (filled in by the operations work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["CodeSystem"])
