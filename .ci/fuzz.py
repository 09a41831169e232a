"""API fuzzing for CI: schemathesis over the server's own OpenAPI document, on SQLite and (when
TERMSVC_TEST_POSTGRES_URL names a server) PostgreSQL, each store holding the bundled samples. Fails on any
5xx answer. Bounded: --seconds per engine (schemathesis' --max-time), so CI knows how long it takes.

    python .ci/fuzz.py [--seconds 90] [--engine sqlite|postgresql|both]

Writes are fuzzed too, with a token holding every write scope (the store is thrown away afterwards)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from termsvc.auth.tokens import issue  # noqa: E402
from termsvc.cli.demo import load_samples  # noqa: E402
from termsvc.store.engine import make_engine, normalise_url  # noqa: E402
from termsvc.store.schema import upgrade  # noqa: E402
from tests.server_support import serving  # noqa: E402


def prepared_store(url: str) -> str:
    """Migrate, load the samples, issue a write token; return the token."""
    upgrade(url)
    for kind, folder, outcome in load_samples(url, REPO / "data-samples"):
        print(f"  {kind:9} {outcome}  ({folder})", flush=True)
    engine = make_engine(url, pool_size=1)
    try:
        return issue(engine, f"fuzz-{uuid.uuid4().hex[:6]}", "system/*.cud")
    finally:
        engine.dispose()


def fuzz(url: str, seconds: int, workdir: str, seed: int) -> bool:
    """Whether the server gave no 5xx (and never failed to answer) in `seconds` of fuzzing."""
    token = prepared_store(url)
    report = Path(workdir) / "junit.xml"
    with serving(url) as base:
        command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{base}/openapi.json",
                   "--checks", "not_a_server_error", "--max-time", str(seconds), "--workers", "2",
                   "--request-timeout", "30", "--seed", str(seed), "--suppress-health-check", "all",
                   "-H", f"Authorization: Bearer {token}", "--report", "junit", "--report-junit-path", str(report)]
        print("  " + " ".join(command[:4]) + " ...", flush=True)
        code = subprocess.run(command, cwd=workdir).returncode  # its .schemathesis cache goes there
    return code == 0 or only_fuzzer_errors(report)


# a schemathesis error that is its own (a crash while generating data), not the server's
_TOOL_ERRORS = ("Runtime Error", "SystemError", "KeyError", "RecursionError", "Unsatisfiable")


def only_fuzzer_errors(report: Path) -> bool:
    """The run failed, but only because the fuzzer itself crashed on some operation: no check failed and no
    request went unanswered. Those crashes are reported and not counted against the server."""
    if not report.exists():
        return False
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None:
            return False
        error = case.find("error")
        if error is None:
            continue
        text = f"{error.get('message', '')} {error.text or ''}"
        if not any(kind in text for kind in _TOOL_ERRORS):
            return False
        print(f"  (a fuzzer error on {case.get('name')}, not a server failure: {text.strip()[:200]})", flush=True)
    return True


def postgres_store(admin_url: str) -> tuple[str, str]:
    """(url of a new database, its name) on the server `admin_url` names."""
    name = f"termsvc_fuzz_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalise_url(admin_url)).set(database=name).render_as_string(hide_password=False), name


def drop_postgres_store(admin_url: str, name: str) -> None:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=90, help="fuzzing time per engine")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    # a fixed seed: CI's run is the one a developer can repeat (the cases come in the same order; a faster
    # machine only goes further); pass another to explore
    parser.add_argument("--seed", type=int, default=20261207, help="schemathesis' seed")
    args = parser.parse_args()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="termsvc-fuzz-") as folder:
        if args.engine in ("sqlite", "both"):
            print("fuzzing on SQLite", flush=True)
            if not fuzz(f"sqlite:///{folder}/fuzz.db", args.seconds, folder, args.seed):
                failed.append("sqlite")
        admin = os.environ.get("TERMSVC_TEST_POSTGRES_URL")
        if args.engine in ("postgresql", "both"):
            if not admin:
                print("PostgreSQL fuzzing skipped: TERMSVC_TEST_POSTGRES_URL is not set", flush=True)
            else:
                print("fuzzing on PostgreSQL", flush=True)
                url, name = postgres_store(admin)
                try:
                    if not fuzz(url, args.seconds, folder, args.seed):
                        failed.append("postgresql")
                finally:
                    drop_postgres_store(admin, name)
    if failed:
        print(f"fuzzing found failures on: {', '.join(failed)}", flush=True)
        return 1
    print("fuzzing: no server errors", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
