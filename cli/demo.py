"""`termsvc demo`: the newcomer's first command. Loads every bundled sample in data-samples/ into the
store (SQLite by default), prints an example request, then serves the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from sqlalchemy import Connection, text

from termsvc.errors import LoadError, TermsvcError

# Loaded in this order; each folder of data-samples/ named after a loader kind is loaded with it.
SAMPLE_KINDS = ("icd10cm", "fhir", "loinc", "snomed", "rxnorm")

# What each sample needs beyond its folder (see each folder's README):
SAMPLE_OPTIONS: dict[str, dict[str, Any]] = {
    # the LOINC excerpt's name carries no version: its source is LOINC 2.79 or later
    "loinc": {"version": "2.79"},
    # the SNOMED CT sample is snowstorm-lite's test fixture, with known dangling rows; the RxNorm one is a
    # fragment whose relationships name concepts outside it
    "snomed": {"strict": False},
    "rxnorm": {"strict": False},
}


def sample_source(kind: str, folder: Path) -> Path:
    """The path a loader takes for a sample folder: the ICD-10-CM loader reads the tabular XML file itself."""
    if kind == "icd10cm":
        tabular = sorted(folder.glob("*tabular*.xml")) or sorted(folder.glob("*.xml"))
        if tabular:
            return tabular[0]
    return folder

def example_requests(conn: Connection, host: str, port: int) -> list[str]:
    """Requests worth trying, built from a code that is in the store (the first billable ICD-10-CM code if
    the sample loaded, else any selectable code), so the newcomer's first request answers."""
    row = conn.execute(text(
        "SELECT cs.url, c.code, c.display FROM concept c JOIN code_system cs ON cs.code_system_id = c.code_system_id "
        "WHERE cs.is_current AND c.active AND NOT c.abstract AND c.display IS NOT NULL "
        "ORDER BY CASE WHEN cs.url = :icd THEN 0 ELSE 1 END, cs.url, c.code LIMIT 1"),
        {"icd": "http://hl7.org/fhir/sid/icd-10-cm"}).first()
    base = f"http://{host}:{port}/fhir"
    examples = [f"curl -s -H 'Accept: application/fhir+xml' '{base}/metadata'"]
    if row is not None:
        system, code, display = (quote(str(value), safe=":/") for value in row)
        examples[:0] = [f"curl -s '{base}/CodeSystem/$lookup?system={system}&code={code}'",
                        f"curl -s '{base}/CodeSystem/$validate-code?url={system}&code={code}&display={display}'"]
    return examples


def load_samples(database_url: str, samples: Path) -> list[tuple[str, str, str]]:
    """Load each sample folder (replacing what an earlier demo loaded); return (kind, path, outcome) rows."""
    from termsvc.loaders.registry import LOADERS
    from termsvc.ops.loading import run_load
    from termsvc.store.engine import make_engine

    engine = make_engine(database_url, pool_size=1)
    results: list[tuple[str, str, str]] = []
    try:
        for kind in SAMPLE_KINDS:
            folder = samples / kind
            if kind not in LOADERS or not folder.is_dir():
                continue
            try:
                summary = run_load(engine, kind, sample_source(kind, folder), replace=True,
                                   **SAMPLE_OPTIONS.get(kind, {}))
            except (LoadError, TermsvcError, ImportError) as exc:
                results.append((kind, str(folder), f"not loaded: {exc}"))
                continue
            concepts = sum(n for name, n in summary.counts.items() if not name.startswith("rows:")
                           and name not in ("ValueSet", "ConceptMap"))
            results.append((kind, str(folder), f"loaded ({concepts:,} concepts)"))
    finally:
        engine.dispose()
    return results


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        samples: Annotated[Path, typer.Option(help="The folder of sample releases.")] = Path("data-samples"),
        host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
        port: Annotated[int | None, typer.Option(help="Port.")] = None,
        serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")] = True,
    ) -> None:
        """Load data-samples/ into the store, print example requests, and serve the API."""
        from termsvc.cli.main import _ensure_schema, console, fail, state
        from termsvc.cli.main import serve as serve_command
        from termsvc.store.engine import make_engine

        if not samples.is_dir():
            raise fail(f"no sample folder at {samples} (run this from the repository, or pass --samples)")
        _ensure_schema()
        console.print(f"store: {state.settings.database_url}")
        for kind, folder, outcome in load_samples(state.settings.database_url, samples):
            console.print(f"  {kind:<8} {folder:<28} {outcome}")
        engine = make_engine(state.settings.database_url, pool_size=1)
        with engine.connect() as conn:
            systems = conn.execute(text("SELECT url, version, concept_count FROM code_system WHERE is_current "
                                        "ORDER BY url")).all()
            examples = example_requests(conn, host or state.settings.host, port or state.settings.port)
        engine.dispose()
        console.print(f"{len(systems)} code systems are current in the store.")
        console.print("\nTry:")
        for example in examples:
            console.print("  " + example, highlight=False, soft_wrap=True)
        if serve:
            serve_command(host=host, port=port, workers=1)
