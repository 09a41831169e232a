"""The loaders by name, as `termsvc load <kind>` knows them. Imported lazily so the CLI starts fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

LOADERS: dict[str, str] = {
    "icd10cm": "termsvc.loaders.icd10cm:load",
    "loinc": "termsvc.loaders.loinc:load",
    "snomed": "termsvc.loaders.snomed_rf2:load",
    "rxnorm": "termsvc.loaders.rxnorm_rrf:load",
    "fhir": "termsvc.loaders.fhir_resources:load",
}


def get_loader(kind: str) -> Callable[..., Any]:
    try:
        target = LOADERS[kind]
    except KeyError:
        raise ValueError(f"unknown loader {kind!r}; choose one of {', '.join(LOADERS)}") from None
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]
