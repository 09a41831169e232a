"""The FHIR R4 core terminology the server ships (see fhir_core_build): loaded into a store once, as one
load run of kind `fhir-core`, so core code systems and value sets (administrative-gender, ...) are known
without the operator loading anything, as on every reference server."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, text

from termsvc.errors import Conflict
from termsvc.loaders.base import sha256_of
from termsvc.loaders.fhir_resources import write_code_system
from termsvc.store.loadrun import load_run

BUNDLE = Path(__file__).parent / "data" / "fhir-r4-core.json.gz"
KIND = "fhir-core"


def core_resources(path: Path = BUNDLE) -> list[dict[str, Any]]:
    with gzip.open(path, "rb") as handle:
        bundle = orjson.loads(handle.read())
    return [entry["resource"] for entry in bundle.get("entry", [])]


def core_loaded(engine: Engine, checksum: str) -> bool:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT checksums_json FROM load_run WHERE kind = :kind AND status = 'completed'"),
                            {"kind": KIND}).all()
    return any(row[0] and checksum in row[0] for row in rows)


def ensure_core(engine: Engine, path: Path = BUNDLE) -> bool:
    """Load the bundled core terminology unless this bundle is already in the store; True if loaded now.
    Versions already in the store (an operator's own load of the same url|version) are kept."""
    checksum = sha256_of(path)
    if core_loaded(engine, checksum):
        return False
    resources = core_resources(path)
    try:
        with load_run(engine, KIND, str(path.name)) as run:
            run.checksums[path.name] = checksum
            existing = {(r[0], r[1] or "") for r in run.conn.execute(text("SELECT url, version FROM code_system"))}
            for index, resource in enumerate(r for r in resources if r.get("resourceType") == "CodeSystem"):
                run.position.file, run.position.path = path.name, f"Bundle.entry[{index}].resource"
                if (resource["url"], resource.get("version", "")) not in existing:
                    write_code_system(run, resource, current=None)
            stored = {(r[0], r[1] or "") for r in run.conn.execute(text("SELECT url, version FROM value_set"))}
            run.value_sets([r for r in resources if r.get("resourceType") == "ValueSet"
                            and (r["url"], r.get("version", "")) not in stored])
    except Conflict:
        # another process is loading (a second worker starting at the same time): it will finish the job
        return False
    return True
