"""`termsvc workbench ...`: map a lab's local codes to a target code system, review, publish as ConceptMaps.
Thin: each command opens one transaction, calls termsvc.workbench and turns its errors into messages."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, Engine

from termsvc.errors import LoadError, TermsvcError

if TYPE_CHECKING:
    from termsvc.workbench.local_codes import StoredCode
    from termsvc.workbench.projects import Project

app = typer.Typer(help="The mapping workbench: import local codes, rank suggestions, review, publish as "
                       "ConceptMaps served by $translate.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

Reviewer = Annotated[str, typer.Option("--reviewer", envvar="USER", help="Who decides (default: $USER).")]
ProjectName = Annotated[str, typer.Argument(help="The project.")]
LocalCode = Annotated[str, typer.Argument(help="The local code.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _engine() -> Iterator[Engine]:
    from termsvc.cli.main import _ensure_schema, state
    from termsvc.store.engine import make_engine

    _ensure_schema()
    engine = make_engine(state.settings.database_url, pool_size=1)
    try:
        yield engine
    except LoadError as exc:
        raise _fail(f"{exc} (nothing was changed)") from None
    except TermsvcError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()


@contextmanager
def _transaction() -> Iterator[Connection]:
    with _engine() as engine, engine.begin() as conn:
        yield conn


@contextmanager
def _project(name: str) -> Iterator[tuple[Connection, Project]]:
    from termsvc.workbench.projects import get_project

    with _transaction() as conn:
        yield conn, get_project(conn, name)


@contextmanager
def _code(name: str, code: str) -> Iterator[tuple[Connection, Project, StoredCode]]:
    from termsvc.workbench.actions import local_code

    with _project(name) as (conn, p):
        yield conn, p, local_code(conn, p, code)


@app.command()
def project(
    name: Annotated[str, typer.Argument(help="The project's name.")],
    local_system: Annotated[str | None, typer.Option("--local-system", help="Canonical URI of the local code "
                                                     "system (creates the project).")] = None,
    target_system: Annotated[str | None, typer.Option("--target-system", help="Target code system URI, e.g. "
                                                      "http://loinc.org.")] = None,
    target_version: Annotated[str, typer.Option("--target-version", help="Pin a target version (default: the "
                                                "current one).")] = "",
    reviewers: Annotated[list[str] | None, typer.Option("--reviewer", help="A reviewer (repeat); none = "
                                                        "anyone may decide.")] = None,
    map_url: Annotated[str | None, typer.Option("--map-url", help="ConceptMap url (default: derived from the "
                                                "local system and name).")] = None,
) -> None:
    """Create a mapping project (with --local-system and --target-system), or show one."""
    from termsvc.workbench.projects import create_project, get_project

    with _transaction() as conn:
        if local_system or target_system:
            if not (local_system and target_system):
                raise _fail("creating a project needs both --local-system and --target-system", 2)
            p = create_project(conn, name, local_system, target_system, target_version=target_version,
                               reviewers=tuple(reviewers or ()), map_url=map_url)
            console.print(f"[green]created[/] project {p.name}")
        else:
            p = get_project(conn, name)
    console.print(f"{p.name}: {p.local_system} -> {p.target_system}"
                  f"{'|' + p.target_version if p.target_version else ' (current version)'}\n"
                  f"  ConceptMap {p.map_url}\n  reviewers: {', '.join(p.reviewers) or 'anyone'}", highlight=False)


@app.command("import")
def import_(
    name: ProjectName,
    path: Annotated[Path, typer.Argument(exists=True, help="A CSV/TSV/Excel file, HL7 v2 file or folder, FHIR "
                                         "Observation NDJSON/Bundle, ConceptMap JSON or Usagi CSV.")],
    kind: Annotated[str | None, typer.Option("--kind", help="table, hl7v2, fhir, conceptmap or usagi "
                                             "(default: from the file name).")] = None,
    code_column: Annotated[str, typer.Option("--code-column")] = "code",
    display_column: Annotated[str, typer.Option("--display-column")] = "display",
    units_column: Annotated[str | None, typer.Option("--units-column")] = None,
    specimen_column: Annotated[str | None, typer.Option("--specimen-column")] = None,
    category_column: Annotated[str | None, typer.Option("--category-column")] = None,
    count_column: Annotated[str | None, typer.Option("--count-column", help="Frequency or count.")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="CSV/TSV character set.")] = "utf-8",
    sheet: Annotated[str, typer.Option("--sheet", help="Excel sheet name or 0-based index.")] = "0",
    add_counts: Annotated[bool, typer.Option("--add-counts", help="Add the file's counts to the known ones (an "
                                             "extract of another period) instead of replacing them.")] = False,
    reviewer: Reviewer = "",
) -> None:
    """Import local codes (re-importing updates counts and adds new codes; decisions are kept), or an existing
    ConceptMap / Usagi export with its mappings as decisions. All or nothing."""
    from termsvc.workbench.import_maps import import_map_file
    from termsvc.workbench.import_table import Columns
    from termsvc.workbench.importing import import_codes

    with _project(name) as (conn, p):
        if kind in ("conceptmap", "usagi"):
            decided = import_map_file(conn, p, path, reviewer or "import")
            console.print(f"[green]imported[/] {decided} decisions from {path}")
            return
        columns = Columns(code_column, display_column, units_column, specimen_column, category_column, count_column)
        summary = import_codes(conn, p, path, kind, columns=columns, encoding=encoding,
                               sheet=int(sheet) if sheet.isdigit() else sheet, add_counts=add_counts)
    for warning in summary.warnings:
        console.print(f"[yellow]warning[/] {warning}", highlight=False)
    console.print(f"[green]imported[/] {summary.added} new and {summary.updated} known local codes from {path}")


@app.command()
def suggest(
    name: ProjectName,
    top: Annotated[int, typer.Option("--top", help="Candidates kept per code.")] = 10,
    output: Annotated[Path | None, typer.Option("--output", help="Also write them to a .csv or .json file.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every code, not only those still pending.")] = False,
    class_: Annotated[str | None, typer.Option("--class", help="Only targets of this class (LOINC CLASS).")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Only targets with this LOINC system.")] = None,
    tty: Annotated[str | None, typer.Option("--tty", help="Only RxNorm targets of this term type.")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="A ranking model `workbench train` wrote "
                                               "(default: the shipped one).")] = None,
) -> None:
    """Rank target candidates for the project's local codes and keep the top K for review."""
    from termsvc.workbench.suggest.learned import RankModel
    from termsvc.workbench.suggesting import suggest_all, write_output

    filters = {k: v for k, v in (("class", class_), ("system", system), ("tty", tty)) if v}
    site_model = RankModel.load(model) if model is not None else None
    with _project(name) as (conn, p):
        ranked = suggest_all(conn, p, top=top, pending_only=not every, filters=filters or None, model=site_model)
    if output is not None:
        write_output(output, ranked)
    console.print(f"{len({r.local_code for r in ranked})} codes ranked, {len(ranked)} suggestions kept"
                  + (f"; written to {output}" if output else ""))


@app.command()
def train(
    name: ProjectName,
    out: Annotated[Path, typer.Option("--out", help="Where to write the site's model (a JSON file).")],
) -> None:
    """Refit the ranking model on the project's approvals. Written only if it ranks held-out approvals at least
    as well as the shipped model; use it with `suggest --model FILE`."""
    from termsvc.workbench.training import train_project

    with _project(name) as (conn, p):
        result = train_project(conn, p)
    console.print(f"shipped model: {result.shipped}", highlight=False)
    console.print(f"site model:    {result.site}", highlight=False)
    if result.model is None:
        raise _fail("the site model does worse on held-out approvals than the shipped one; not written")
    result.model.save(out)
    console.print(f"[green]site model[/] trained on {result.approvals} approvals written to {out}", highlight=False)


@app.command()
def review(name: ProjectName, reviewer: Reviewer = "") -> None:
    """Review interactively: the most frequent pending code, its context and candidates, one key per action."""
    from termsvc.workbench.projects import check_reviewer, get_project
    from termsvc.workbench.review import Reviewer as Loop
    from termsvc.workbench.review import terminal_key

    with _engine() as engine:
        with engine.connect() as conn:
            p = get_project(conn, name)
        check_reviewer(p, reviewer)
        key = terminal_key if sys.stdin.isatty() else None
        session = Loop(engine, p, reviewer, console, lambda prompt: console.input(prompt), key=key).run()
    console.print(f"session: {session.approved} approved, {session.rejected} rejected, {session.flagged} flagged")


@app.command()
def approve(
    name: ProjectName,
    code: LocalCode,
    target: Annotated[str, typer.Argument(help="The target code (must be active in the target version).")],
    equivalence: Annotated[str, typer.Option("--equivalence", help="R4 ConceptMap equivalence.")] = "equivalent",
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    also: Annotated[bool, typer.Option("--also", help="Add the target to the code's approved targets instead "
                                       "of replacing them.")] = False,
    reviewer: Reviewer = "",
) -> None:
    """Approve a mapping."""
    from termsvc.workbench.actions import add_target
    from termsvc.workbench.actions import approve as do_approve

    with _code(name, code) as (conn, p, stored):
        act = add_target if also else do_approve
        act(conn, p, stored, target, reviewer, equivalence=equivalence, comment=comment)
    console.print(f"[green]approved[/] {code} -> {target} ({equivalence}){' as well' if also else ''}",
                  highlight=False)


@app.command()
def reject(
    name: ProjectName,
    code: LocalCode,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    reviewer: Reviewer = "",
) -> None:
    """Record that no target fits (published as unmatched)."""
    from termsvc.workbench.actions import reject as do_reject

    with _code(name, code) as (conn, p, stored):
        do_reject(conn, p, stored, reviewer, comment=comment)
    console.print(f"rejected {code}", highlight=False)


@app.command()
def flag(
    name: ProjectName,
    code: LocalCode,
    comment: Annotated[str, typer.Option("--comment", help="What is in doubt.")],
    reviewer: Reviewer = "",
) -> None:
    """Flag a code for a second look, with a comment."""
    from termsvc.workbench.actions import flag as do_flag

    with _code(name, code) as (conn, p, stored):
        do_flag(conn, p, stored, reviewer, comment)
    console.print(f"flagged {code}", highlight=False)


@app.command()
def status(name: ProjectName) -> None:
    """Coverage: codes and frequency-weighted volume per state, overall and per reviewer."""
    from termsvc.workbench.status import coverage

    with _project(name) as (conn, p):
        cov = coverage(conn, p)
    table = Table(title=f"{name}: {cov.total.codes} codes, volume {cov.total.volume}")
    for column in ("state", "codes", "% codes", "volume", "% volume"):
        table.add_column(column, justify="right" if column != "state" else "left")
    for state, tally in cov.by_state.items():
        table.add_row(state, str(tally.codes), f"{100 * cov.share(state):.1f}", str(tally.volume),
                      f"{100 * cov.share(state, weighted=True):.1f}")
    console.print(table)
    if cov.by_reviewer:
        per = Table(title="by reviewer (current decisions)")
        per.add_column("reviewer")
        for state in cov.by_state:
            per.add_column(state, justify="right")
        for who, tallies in sorted(cov.by_reviewer.items()):
            per.add_row(who, *(f"{t.codes} ({t.volume})" for t in tallies.values()))
        console.print(per)


@app.command()
def history(
    name: ProjectName,
    code: LocalCode,
) -> None:
    """Every decision on a code, oldest first."""
    from termsvc.workbench.decisions import history as decisions_of

    with _code(name, code) as (conn, _, stored):
        rows = decisions_of(conn, stored.local_code_id)
    table = Table(title=escape(f"{code}: {stored.display}"))
    for column in ("#", "when", "reviewer", "action", "from", "to", "target", "equivalence", "comment"):
        table.add_column(column)
    for r in rows:
        # SQLite hands back raw timestamps as text, PostgreSQL as datetimes: both print as ISO
        when = str(r.decided_at).replace("T", " ")[:19]
        target = f"{r.target_code} {r.target_display or ''}".strip() if r.target_code else ""
        table.add_row(*(escape(v) for v in (str(r.decision_id), when, r.reviewer, r.action, r.previous_state,
                                            r.new_state, target, r.equivalence or "", r.comment or "")))
    console.print(table if rows else f"no decisions on {code} yet")


@app.command()
def publish(name: ProjectName) -> None:
    """Store the approved mappings as the next version of the project's ConceptMap (served by $translate)."""
    from termsvc.workbench.publish import publish as do_publish

    with _project(name) as (conn, p):
        done = do_publish(conn, p)
    console.print(f"[green]published[/] {done.url}|{done.version} ({done.elements} codes)", highlight=False)


@app.command()
def export(
    name: ProjectName,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="json or xml (ConceptMap), csv, omop "
                                     "(source_to_concept_map).")] = "json",
    version: Annotated[str | None, typer.Option("--version", help="A published version (default: the current "
                                                "decisions, as a draft).")] = None,
    omop_concepts: Annotated[Path | None, typer.Option("--omop-concepts", exists=True, help="Athena CONCEPT.csv "
                                                       "to fill target_concept_id.")] = None,
) -> None:
    """Write the mappings out as a ConceptMap (JSON/XML), CSV or OMOP source_to_concept_map."""
    from termsvc.workbench.export import OMOP_VOCABULARY, omop_concept_ids
    from termsvc.workbench.export import export as do_export

    with _project(name) as (conn, p):
        ids = omop_concept_ids(omop_concepts, OMOP_VOCABULARY.get(p.target_system, "")) if omop_concepts else None
        written = do_export(conn, p, fmt, output, version=version, omop_concepts=ids)
    console.print(f"wrote {written} rows to {output}", highlight=False)


@app.command()
def revalidate(
    name: ProjectName,
    version: Annotated[str | None, typer.Option("--version", help="The target version to check against "
                                                "(default: the current one).")] = None,
    reviewer: Reviewer = "",
) -> None:
    """Put approvals whose target became inactive or was renamed back into review, with the release's own
    replacements as the first suggestions."""
    from termsvc.workbench.revalidate import revalidate as do_revalidate

    with _project(name) as (conn, p):
        reopened = do_revalidate(conn, p, reviewer, version=version)
    for r in reopened:
        console.print(f"{r.local_code}: {r.reason}", highlight=False)
    console.print(f"{len(reopened)} codes back in review")
