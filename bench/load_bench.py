"""Load benchmark: full-size synthetic LOINC, SNOMED CT and RxNorm into SQLite and PostgreSQL.

For each terminology it generates the release into bench/out/ (or reuses one generated with the same seed and
scale), then per engine creates a fresh store, runs `termsvc load` in a child process and prints wall time,
rows per second (rows the load wrote, from its load record), the child's peak RSS, database size, closure rows
and the load's own stage timings. Targets (issue 3) are printed beside the figures.

Usage: python bench/load_bench.py [--only snomed,loinc,rxnorm] [--engines sqlite,postgresql] [--pg URL]
                                  [--scale 1.0] [--seed N] [--regenerate]
PostgreSQL: --pg or TERMSVC_TEST_POSTGRES_URL (a server URL; a fresh database is created and dropped per run)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
TARGETS = {("snomed", "sqlite"): 300.0, ("snomed", "postgresql"): 480.0, ("loinc", "sqlite"): 60.0,
           ("loinc", "postgresql"): 60.0, ("rxnorm", "sqlite"): 180.0, ("rxnorm", "postgresql"): 180.0}
RSS_TARGET_MB = 2048
DEFAULT_SEED = 20261123


@dataclass
class Release:
    name: str
    generator: str
    kind: str
    load_path: str  # inside the generated folder

    def folder(self, scale: float, seed: int) -> Path:
        # the generators' own default folder for the default release, so one made by hand is reused
        if scale == 1.0 and seed == DEFAULT_SEED:
            return OUT / self.name
        return OUT / f"{self.name}-{scale:g}-{seed}"


RELEASES = {
    "loinc": Release("loinc", "synth_loinc.py", "loinc", "Loinc_2.81"),
    "snomed": Release("snomed", "synth_snomed.py", "snomed", ""),
    "rxnorm": Release("rxnorm", "synth_rxnorm.py", "rxnorm", "RxNorm_full_11032025"),
}


def ensure_release(release: Release, scale: float, seed: int, regenerate: bool) -> Path:
    folder = release.folder(scale, seed)
    marker = folder / ".generated.json"
    made = json.loads(marker.read_text()) if marker.exists() else {}
    if regenerate or made.get("seed") != seed or made.get("scale") != scale:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(BENCH / release.generator), "--out", str(folder), "--seed", str(seed),
                        "--scale", str(scale)], check=True, stdout=subprocess.DEVNULL)
        print(f"generated {release.name} in {time.perf_counter() - started:.0f} s -> {folder}", flush=True)
    return folder / release.load_path if release.load_path else folder


def pg_admin_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def fresh_store(engine_name: str, label: str, pg: str | None) -> tuple[str, Path | None]:
    if engine_name == "sqlite":
        path = OUT / "db" / f"{label}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}", path
    assert pg
    name = f"termsvc_bench_{label}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(pg_admin_url(pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg).set(database=name).render_as_string(hide_password=False), None


def drop_store(engine_name: str, url: str, pg: str | None) -> None:
    if engine_name != "postgresql" or not pg:
        return
    admin = create_engine(pg_admin_url(pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def termsvc(url: str, *args: str, log: Path) -> tuple[int, float, float, float]:
    """Run the CLI in a child process; return (exit status, wall seconds, peak RSS in MB, CPU seconds) of that
    child. CPU time is reported beside wall time because on a shared machine wall time also measures the
    neighbours."""
    started = time.perf_counter()
    with log.open("a") as out:
        proc = subprocess.Popen([sys.executable, "-m", "termsvc.cli.main", "--db", url, *args], cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(url: str, sqlite_path: Path | None) -> dict[str, object]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT counts_json, timings_json FROM load_run WHERE status = 'completed' "
                                "ORDER BY load_id DESC LIMIT 1")).one()
        closure = int(conn.execute(text("SELECT COUNT(*) FROM closure")).scalar_one())
        concepts = int(conn.execute(text("SELECT COUNT(*) FROM concept")).scalar_one())
        if sqlite_path is None:
            size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = sqlite_path.stat().st_size
    engine.dispose()
    counts = json.loads(row[0] or "{}")
    rows = sum(v for k, v in counts.items() if k.startswith("rows:"))
    return {"rows": rows, "closure": closure, "concepts": concepts, "size_mb": size / 1e6,
            "timings": json.loads(row[1] or "{}")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="loinc,rxnorm,snomed")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg", default=os.environ.get("TERMSVC_TEST_POSTGRES_URL"))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    if "postgresql" in engines and not args.pg:
        print("PostgreSQL skipped: pass --pg or set TERMSVC_TEST_POSTGRES_URL")
        engines.remove("postgresql")
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    results = []
    failed = 0
    for name in [n for n in args.only.split(",") if n]:
        release = RELEASES[name]
        path = ensure_release(release, args.scale, args.seed, args.regenerate)
        for engine_name in engines:
            label = f"{name}_{engine_name}"
            log = OUT / "logs" / f"{label}.log"
            log.write_text("")
            url, sqlite_path = fresh_store(engine_name, label, args.pg)
            try:
                code, _, _, _ = termsvc(url, "db", "upgrade", log=log)
                if code:
                    raise SystemExit(f"db upgrade failed, see {log}")
                code, wall, rss, cpu = termsvc(url, "load", release.kind, str(path), log=log)
                if code:
                    failed += 1
                    print(f"{label}: load FAILED (exit {code}) after {wall:.1f} s; see {log}", flush=True)
                    continue
                figures = measure(url, sqlite_path)
            finally:
                drop_store(engine_name, url, args.pg)
            target = TARGETS.get((name, engine_name)) if args.scale == 1.0 else None
            rows = int(figures["rows"])  # type: ignore[call-overload]
            result = {"terminology": name, "engine": engine_name, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                      "rows": rows, "rows_per_s": round(rows / wall), "peak_rss_mb": round(rss),
                      "db_mb": round(float(figures["size_mb"]), 1),  # type: ignore[arg-type]
                      "concepts": figures["concepts"], "closure_rows": figures["closure"],
                      "target_s": target, "met": None if target is None else wall <= target and rss <= RSS_TARGET_MB,
                      "stages": figures["timings"]}
            results.append(result)
            print(json.dumps(result), flush=True)
    print()
    print(f"{'terminology':<8} {'engine':<10} {'wall s':>8} {'CPU s':>7} {'rows':>11} {'rows/s':>9} {'RSS MB':>7} {'DB MB':>8} "
          f"{'closure':>10} {'target':>7}")
    for r in results:
        met = "" if r["met"] is None else ("ok" if r["met"] else "MISSED")
        print(f"{r['terminology']:<8} {r['engine']:<10} {r['wall_s']:>8} {r['cpu_s']:>7} {r['rows']:>11,} {r['rows_per_s']:>9,} "
              f"{r['peak_rss_mb']:>7} {r['db_mb']:>8} {r['closure_rows']:>10,} {met:>7}")
    (OUT / "last_results.json").write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
