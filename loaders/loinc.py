"""The LOINC loader: a LOINC release (folder or zip, see loinc_release) into http://loinc.org|<version>,
in one load run.

Stages, in an order that lets each use what the previous wrote: parts (Part.csv; kept in an index so
Loinc.csv's axis text can be turned into part codes), part links, terms (Loinc.csv), replacements
(MapTo.csv), consumer names, answer lists and their ValueSets, answer list links, the component hierarchy,
linguistic variants; then the writer checks that every code mentioned was defined and builds the closure.

Options: `version` (the release version when the release's name does not carry it), `supplementary`
(also load LoincPartLink_Supplementary.csv, off by default: it adds millions of search-oriented links)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from termsvc.errors import Invalid
from termsvc.loaders.base import Progress
from termsvc.loaders.loinc_answers import load_answer_list_links, load_answer_lists
from termsvc.loaders.loinc_model import code_system_resource
from termsvc.loaders.loinc_parts import load_hierarchy, load_part_links, load_parts
from termsvc.loaders.loinc_release import (
    PART_LINK_PRIMARY,
    PART_LINK_SUPPLEMENTARY,
    open_release,
    release_version,
)
from termsvc.loaders.loinc_terms import load_consumer_names, load_map_to, load_terms
from termsvc.loaders.loinc_variants import load_variants
from termsvc.store.loadrun import LoadRun


def load(run: LoadRun, path: Path, progress: Progress, *, current: bool | None = None, version: str | None = None,
         supplementary: bool = False, **options: Any) -> None:
    if options:
        raise Invalid(f"the LOINC loader has no option {', '.join(sorted(options))}; it takes version and "
                      "supplementary")
    with open_release(Path(path)) as release:
        release_ver = release_version(release, version)
        writer = run.code_system(code_system_resource(release_ver), current=current)
        with run.timed("loinc:parts"):
            parts = load_parts(run, writer, release, progress)
        linked: dict[str, int] = {}
        with run.timed("loinc:part links"):
            primary = release.find(PART_LINK_PRIMARY)
            if primary is not None:
                load_part_links(run, writer, release, progress, primary, linked)
            extra = release.find(PART_LINK_SUPPLEMENTARY) if supplementary else None
            if extra is not None:
                load_part_links(run, writer, release, progress, extra, None)
        with run.timed("loinc:terms"):
            consumer_names = load_terms(run, writer, release, progress, parts, linked)
            del linked, parts
            load_map_to(run, writer, release, progress)
            load_consumer_names(run, writer, release, progress, consumer_names)
        with run.timed("loinc:answer lists"):
            load_answer_lists(run, writer, release, progress, release_ver)
            load_answer_list_links(run, writer, release, progress)
        with run.timed("loinc:hierarchy"):
            load_hierarchy(run, writer, release, progress)
        with run.timed("loinc:linguistic variants"):
            load_variants(run, writer, release, progress)
        run.position.file, run.position.line = "<LOINC release>", None
        with run.timed("loinc:closure"):
            writer.finish()
