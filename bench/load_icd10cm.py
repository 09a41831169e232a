"""Load benchmark: the full ICD-10-CM tabular XML into a fresh SQLite file and a fresh PostgreSQL database.

Each load runs in a child process (schema created first, untimed) so its peak RSS is its own. Prints wall
time of the load, rows written per second (from the load record), peak RSS, database size and the load's
stage timings, beside the targets (issue 2: 30 s SQLite, 60 s PostgreSQL, 500 MB RSS).

Usage: python bench/load_icd10cm.py [--xml PATH] [--engines sqlite,postgresql] [--pg URL] [--repeat N]
PostgreSQL: --pg or TERMSVC_TEST_POSTGRES_URL, a server URL; a database is created for each run and dropped."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
DEFAULT_XML = REPO.parent / "shared" / "data" / "icd10cm" / "icd10c-tabular-April-1-2026.xml"
TARGET_SECONDS = {"sqlite": 30.0, "postgresql": 60.0}
RSS_TARGET_MB = 500


def child(url: str, xml: str) -> None:
    """Runs in the child: create the schema, time the load, report as one JSON line."""
    sys.path.insert(0, str(REPO))
    from termsvc.ops.loading import run_load
    from termsvc.store.engine import make_engine
    from termsvc.store.schema import upgrade

    upgrade(url)
    engine = make_engine(url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    summary = run_load(engine, "icd10cm", Path(xml))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time of this process alone: on a shared machine wall time also counts other people's work
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    with engine.connect() as conn:
        counts = json.loads(conn.execute(text("SELECT counts_json FROM load_run WHERE load_id = :id"),
                                         {"id": summary.load_id}).scalar_one())
        closure = int(conn.execute(text("SELECT COUNT(*) FROM closure")).scalar_one())
    engine.dispose()
    rows = sum(n for name, n in counts.items() if name.startswith("rows:")) + closure
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "closure": closure, "timings": summary.timings,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def _run_child(url: str, xml: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", url, str(xml)], capture_output=True, text=True,
                          check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"load failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_sqlite(xml: Path) -> tuple[dict[str, Any], int]:
    with tempfile.TemporaryDirectory(prefix="termsvc-bench-") as folder:
        database = Path(folder) / "icd10cm.db"
        result = _run_child(f"sqlite:///{database}", xml)
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
    return result, size


def bench_postgres(xml: Path, server: str) -> tuple[dict[str, Any], int]:
    base = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1)
                    if server.startswith("postgresql://") else server)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"termsvc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        result = _run_child(base.set(database=name).render_as_string(hide_password=False), xml)
        with admin.connect() as conn:
            size = int(conn.execute(text("SELECT pg_database_size(:n)"), {"n": name}).scalar_one())
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return result, size


def report(engine_name: str, result: dict[str, Any], size: int) -> None:
    seconds = float(result["seconds"])
    rss_mb = int(result["maxrss_kb"]) / 1024
    target = TARGET_SECONDS[engine_name]
    print(f"{engine_name:<11} load {seconds:7.1f} s (target {target:.0f} s: {'ok' if seconds <= target else 'MISSED'})"
          f"  {result['rows'] / seconds:9,.0f} rows/s ({result['rows']:,} rows incl. {result['closure']:,} closure)"
          f"  peak RSS {rss_mb:6.0f} MB ({'ok' if rss_mb <= RSS_TARGET_MB else 'MISSED'})"
          f"  database {size / 1e6:6.1f} MB")
    print(f"{'':<11} loader process CPU {result['cpu']:.1f} s; stages: {result['timings']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xml", type=Path, default=DEFAULT_XML)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg", default=os.environ.get("TERMSVC_TEST_POSTGRES_URL"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("URL", "XML"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"ICD-10-CM load: {args.xml} ({args.xml.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for engine_name in args.engines.split(","):
        for _ in range(args.repeat):
            if engine_name == "sqlite":
                report(engine_name, *bench_sqlite(args.xml))
            elif not args.pg:
                print("postgresql  skipped: pass --pg URL or set TERMSVC_TEST_POSTGRES_URL")
                break
            else:
                report(engine_name, *bench_postgres(args.xml, args.pg))


if __name__ == "__main__":
    main()
