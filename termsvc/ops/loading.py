"""The load service: open a load run, call the loader, return what it wrote. Used by the CLI and by
API-started loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from termsvc.loaders.base import NullProgress, Progress
from termsvc.loaders.registry import get_loader
from termsvc.store.loadrun import LoadSummary, load_run


def run_load(engine: Engine, kind: str, path: Path, *, replace: bool = False, progress: Progress | None = None,
             **options: Any) -> LoadSummary:
    loader = get_loader(kind)
    with load_run(engine, kind, str(path), replace=replace) as run:
        loader(run, path, progress or NullProgress(), **options)
        summary = LoadSummary(run.load_id, run.counts, run.timings)
    return summary
