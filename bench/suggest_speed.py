"""Speed and memory of the workbench suggestion engine on a full-size LOINC (105k terms): build the index (read
from a loaded store with build_index, or straight from a Loinc.csv), then suggest the top 10 for 1,000 local
codes. Prints wall times and peak RSS; targets: index under 60 s, suggestions under 20 s, peak under 1.5 GB.

Usage:
  .venv/bin/python bench/suggest_speed.py [--store sqlite:///bench/out/db/loinc_sqlite.db] [--loinc-csv PATH]
                                          [--locals 1000] [--seed 7]
Without --store or --loinc-csv: uses bench/out/db/loinc_sqlite.db if bench/load_bench.py made it, else the
Loinc.csv of bench/synth_loinc.py's release (generated if missing)."""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine  # noqa: E402

from termsvc.workbench.suggest import Candidate, LocalTerm, TargetIndex, read_candidates  # noqa: E402

LOINC = "http://loinc.org"
_AXES = ("PROPERTY", "SYSTEM", "SCALE_TYP", "METHOD_TYP", "CLASS", "COMMON_TEST_RANK", "STATUS")
_NAMES = ("SHORTNAME", "DisplayName", "CONSUMER_NAME", "RELATEDNAMES2")
_SPECIMEN = {"Ser/Plas": "serum", "Bld": "whole blood", "Ur": "urine", "CSF": "csf", "BldA": "arterial blood",
             "Plas": "plasma", "Ser": "serum"}
_UNITS = {"MCnc": "mg/dL", "SCnc": "mmol/L", "CCnc": "U/L", "NCnc": "10*3/uL", "VFr": "%", "Time": "s"}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def from_csv(path: Path) -> list[Candidate]:
    out: list[Candidate] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            names = tuple(row[n] for n in _NAMES if row.get(n))
            props = {k: (row[k],) for k in _AXES if row.get(k)}
            out.append(Candidate(row["LOINC_NUM"], row["LONG_COMMON_NAME"], names, props,
                                 row["STATUS"] != "DEPRECATED"))
    return out


def local_codes(candidates: list[Candidate], n: int, seed: int) -> list[LocalTerm]:
    """Local names made from random active terms the way labs write them: a short name or the component alone,
    with units and specimen from the term's axes."""
    rng = random.Random(seed)
    active = [c for c in candidates if c.active]
    out: list[LocalTerm] = []
    for i in range(n):
        c = rng.choice(active)
        shorts = [d for d in c.designations if ";" not in d]
        name = rng.choice(shorts) if shorts and rng.random() < 0.5 else c.display.split("[")[0].strip()
        prop, system = c.first("PROPERTY") or "", c.first("SYSTEM") or ""
        out.append(LocalTerm(f"L{i}", name.upper() if rng.random() < 0.3 else name, units=_UNITS.get(prop),
                             specimen=_SPECIMEN.get(system), count=rng.randint(1, 5000)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="SQLAlchemy URL of a store with LOINC loaded")
    parser.add_argument("--loinc-csv", type=Path, default=None)
    parser.add_argument("--locals", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    default_db = ROOT / "bench/out/db/loinc_sqlite.db"
    store = args.store or (f"sqlite:///{default_db}" if args.loinc_csv is None and default_db.exists() else None)
    started, cpu = time.perf_counter(), time.process_time()
    if store:  # build_index's own two steps, timed apart: read_candidates, then the index
        engine = create_engine(store)
        with engine.connect() as conn:
            candidates = read_candidates(conn, LOINC, None)
        source = store
    else:
        path = args.loinc_csv or ROOT / "bench/out/loinc/Loinc_2.81/LoincTable/Loinc.csv"
        if not path.exists():
            subprocess.run([sys.executable, str(ROOT / "bench/synth_loinc.py")], check=True, cwd=ROOT)
        candidates = from_csv(path)
        source = str(path)
    read, read_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"source: {source}\ncandidates: {len(candidates):,} terms, "
          f"{sum(len(c.designations) + 1 for c in candidates):,} names; read {read:.1f} s (CPU {read_cpu:.1f} s), "
          f"peak {peak_mb():.0f} MB")
    terms = local_codes(candidates, args.locals, args.seed)
    started, cpu = time.perf_counter(), time.process_time()
    index = TargetIndex.from_candidates(candidates, local_names=[t.display for t in terms])
    built, built_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"index build: {built:.1f} s (CPU {built_cpu:.1f} s; read + build {read + built:.1f} s, CPU "
          f"{read_cpu + built_cpu:.1f} s; target 60 s), peak {peak_mb():.0f} MB")
    started, cpu = time.perf_counter(), time.process_time()
    hits = 0
    for term in terms:
        hits += bool(index.suggest(term, top=10))
    suggested, suggested_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"suggestions: {len(terms):,} local codes in {suggested:.1f} s (CPU {suggested_cpu:.1f} s; "
          f"{1000 * suggested / len(terms):.1f} ms each; target 20 s), peak RSS {peak_mb():.0f} MB (target 1,536 MB)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
