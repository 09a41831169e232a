"""ConceptMap: read, search and operations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ConceptMap"])
