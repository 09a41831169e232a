"""HTTP throughput and latency of the terminology operations at full size, beside /healthz (the ceiling).

    .venv/bin/python bench/http_terminology.py [--engines sqlite,postgresql] [--requests 3000] [--clients 16]
                                               [--scale 1.0] [--pg URL] [--only validate-small,expand-0,...]

Per engine it uses a store holding the synthetic SNOMED CT and LOINC releases (bench/synth_*.py), made and
loaded once (SQLite: bench/out/db/http_sqlite[_<scale>].db; PostgreSQL: database termsvc_bench_http[_<scale>] on
the --pg server) and reused by later runs; it adds what the figures need once: a small enumerated LOINC value
set and a ConceptMap of 100k elements (SNOMED CT -> LOINC). The large is-a value set is SNOMED CT's implicit
`?fhir_vs=isa/<top>` for the top-level hierarchy nearest 100k concepts. The server is uvicorn, one process,
loopback only; the client (asyncio, raw sockets, keep-alive, `--clients` connections, in this process) shares
the machine's cores with it, so the figures are a floor. Each endpoint is warmed up first (which also stores
the large expansion), then driven with `--requests` GET requests; req/s, p50 and p99 are printed with the
targets of issue 4 and the load average."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from http_ops import drive, free_port, start_server  # noqa: E402
from load_bench import DEFAULT_SEED, RELEASES, ensure_release  # noqa: E402

from termsvc.store.engine import make_engine, normalise_url  # noqa: E402
from termsvc.store.resources import store_concept_map, store_value_set  # noqa: E402
from termsvc.store.schema import upgrade  # noqa: E402

SNOMED = "http://snomed.info/sct"
SNOMED_ROOT = "138875005"
LOINC = "http://loinc.org"
SMALL_VS = "http://example.org/bench/vs/small-loinc"
MAP_URL = "http://example.org/bench/cm/snomed-to-loinc"
MAP_SIZE = 100_000
TARGET_EXPANSION = 100_000
SAMPLE = 2000


@dataclass
class Fixtures:
    isa_url: str
    isa_size: int
    small_codes: list[str]
    isa_codes: list[str]
    map_codes: list[str]
    filter_word: str
    lookup_codes: list[str]


def store_url(engine_name: str, scale: float, pg: str | None) -> str:
    suffix = "" if scale == 1.0 else f"_{scale:g}".replace(".", "_")
    if engine_name == "sqlite":
        path = BENCH / "out" / "db" / f"http_sqlite{suffix}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if not pg:
        raise SystemExit("PostgreSQL needs --pg or TERMSVC_TEST_POSTGRES_URL")
    name = f"termsvc_bench_http{suffix}"
    admin = create_engine(normalise_url(pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalise_url(pg)).set(database=name).render_as_string(hide_password=False)


def _loaded(engine: Engine, url: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM code_system WHERE url = :u AND is_current AND concept_count > 0"),
                            {"u": url}).first() is not None


def ensure_loaded(url: str, scale: float) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        for name, system in (("snomed", SNOMED), ("loinc", LOINC)):
            if _loaded(engine, system):
                continue
            release = RELEASES[name]
            path = ensure_release(release, scale, DEFAULT_SEED, False)
            print(f"loading {name} into {make_url(url).render_as_string()} ...", flush=True)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "termsvc.cli.main", "--db", url, "load", release.kind, str(path)],
                           cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        engine.dispose()


def _codes(conn: Connection, sql: str, params: dict[str, object]) -> list[str]:
    return [str(r[0]) for r in conn.execute(text(sql), params)]


def prepare(url: str, scale: float) -> Fixtures:
    """The value sets, the concept map and the sampled codes the requests use (made once per store)."""
    engine = make_engine(url)
    rng = random.Random(20261123)
    try:
        with engine.begin() as conn:
            cs = {u: int(conn.execute(text("SELECT code_system_id FROM code_system WHERE url = :u AND is_current"),
                                      {"u": u}).scalar_one()) for u in (SNOMED, LOINC)}
            # the top-level SNOMED CT hierarchy nearest the wanted size
            tops = conn.execute(text(
                "SELECT c.code, (SELECT COUNT(*) FROM closure k WHERE k.ancestor_id = c.concept_id) FROM concept_edge e "
                "JOIN concept r ON r.concept_id = e.parent_id JOIN concept c ON c.concept_id = e.child_id "
                "WHERE r.code_system_id = :cs AND r.code = :root"), {"cs": cs[SNOMED], "root": SNOMED_ROOT}).all()
            wanted = TARGET_EXPANSION * scale
            top, size = min(((str(r[0]), int(r[1])) for r in tops), key=lambda t: abs(t[1] - wanted))
            loinc = _codes(conn, "SELECT code FROM concept WHERE code_system_id = :cs AND active AND NOT abstract "
                                 "AND code LIKE '%-%' AND code NOT LIKE 'L%' ORDER BY concept_id LIMIT 5000", {"cs": cs[LOINC]})
            small = rng.sample(loinc, 40)
            if not conn.execute(text("SELECT 1 FROM value_set WHERE url = :u"), {"u": SMALL_VS}).first():
                store_value_set(conn, {
                    "resourceType": "ValueSet", "id": "bench-small", "url": SMALL_VS, "version": "1",
                    "name": "BenchSmall", "status": "active",
                    "compose": {"include": [{"system": LOINC, "concept": [{"code": c} for c in small]}]}})
            # the stored value set's codes (an earlier run may have chosen them)
            stored = json.loads(conn.execute(text("SELECT resource_json FROM value_set WHERE url = :u"),
                                             {"u": SMALL_VS}).scalar_one())
            small = [c["code"] for c in stored["compose"]["include"][0]["concept"]]
            isa = _codes(conn, "SELECT c.code FROM closure k JOIN concept c ON c.concept_id = k.descendant_id "
                               "JOIN concept t ON t.concept_id = k.ancestor_id WHERE t.code_system_id = :cs AND "
                               "t.code = :top ORDER BY c.concept_id", {"cs": cs[SNOMED], "top": top})
            sources = _codes(conn, "SELECT code FROM concept WHERE code_system_id = :cs AND active ORDER BY concept_id "
                                   f"LIMIT {int(MAP_SIZE * max(scale, 0.01))}", {"cs": cs[SNOMED]})
            if not conn.execute(text("SELECT 1 FROM concept_map WHERE url = :u"), {"u": MAP_URL}).first():
                elements = [{"code": s, "target": [{"code": loinc[i % len(loinc)],
                                                    "equivalence": ("equivalent", "wider", "narrower")[i % 3]}]}
                            for i, s in enumerate(sources)]
                started = time.perf_counter()
                store_concept_map(conn, {"resourceType": "ConceptMap", "id": "bench-map", "url": MAP_URL,
                                         "version": "1", "name": "BenchMap", "status": "active",
                                         "group": [{"source": SNOMED, "target": LOINC, "element": elements}]})
                print(f"  stored a ConceptMap of {len(elements)} elements in {time.perf_counter() - started:.0f} s")
            displays = _codes(conn, "SELECT c.display FROM closure k JOIN concept c ON c.concept_id = "
                                    "k.descendant_id JOIN concept t ON t.concept_id = k.ancestor_id WHERE "
                                    "t.code_system_id = :cs AND t.code = :top AND c.display IS NOT NULL LIMIT 200",
                              {"cs": cs[SNOMED], "top": top})
        words = [w.lower() for d in displays for w in d.split() if len(w) > 4 and w.isalpha()]
        filter_word = max(set(words), key=words.count) if words else "disorder"
        return Fixtures(f"{SNOMED}?fhir_vs=isa/{top}", size, small, rng.sample(isa, min(SAMPLE, len(isa))),
                        rng.sample(sources, min(SAMPLE, len(sources))), filter_word,
                        rng.sample(isa, min(SAMPLE, len(isa))))
    finally:
        engine.dispose()


def endpoints(f: Fixtures) -> dict[str, list[str]]:
    def get(path: str, **params: str) -> str:
        return f"/fhir/{path}?{urlencode(params)}"

    small = [get("ValueSet/$validate-code", url=SMALL_VS, system=LOINC, code=c) for c in f.small_codes]
    return {
        "/healthz": ["/healthz"],
        "lookup": [get("CodeSystem/$lookup", system=SNOMED, code=c) for c in f.lookup_codes],
        "validate-small": small,
        "validate-isa": [get("ValueSet/$validate-code", url=f.isa_url, system=SNOMED, code=c) for c in f.isa_codes],
        "translate": [get("ConceptMap/$translate", url=MAP_URL, system=SNOMED, code=c) for c in f.map_codes],
        "expand-0": [get("ValueSet/$expand", url=f.isa_url, count="100")],
        "expand-50000": [get("ValueSet/$expand", url=f.isa_url, count="100",
                             offset=str(min(50_000, max(f.isa_size - 100, 0))))],
        "expand-filter": [get("ValueSet/$expand", url=f.isa_url, count="100", filter=f.filter_word)],
    }


TARGETS = {"validate-small": "req/s >= 0.5 x healthz, p99 < 20 ms", "validate-isa": "req/s >= 0.5 x healthz, "
           "p99 < 20 ms", "translate": "req/s >= 0.5 x healthz, p99 < 20 ms", "expand-0": "p50 < 50 ms",
           "expand-50000": "p50 < 50 ms", "expand-filter": "p50 < 50 ms"}


def met(label: str, rps: float, p50: float, p99: float, ceiling: float) -> str:
    if label.startswith("expand"):
        return "yes" if p50 < 50 else "NO"
    if label in TARGETS:
        return "yes" if rps >= 0.5 * ceiling and p99 < 20 else "NO"
    return ""


def bench(engine_name: str, url: str, fixtures: Fixtures, requests: int, clients: int, only: set[str]) -> None:
    port = free_port()
    server = start_server(url, port)
    try:
        print(f"[{engine_name}] is-a value set {fixtures.isa_url} ({fixtures.isa_size} codes), filter "
              f"'{fixtures.filter_word}'; {requests} GET requests per endpoint ({requests // 5} for $expand), "
              f"{clients} concurrent keep-alive clients, loopback")
        print(f"  {'endpoint':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  {'met':<5}target")
        ceiling = 0.0
        for label, pool in endpoints(fixtures).items():
            if only and label not in only and label != "/healthz":
                continue
            n = requests // 5 if label.startswith("expand") else requests
            drive(port, [pool[i % len(pool)] for i in range(min(200, n))], clients)  # warm-up (stores the expansion)
            rps, p50, p99, errors = drive(port, [pool[i % len(pool)] for i in range(n)], clients)
            if label == "/healthz":
                ceiling = rps
            load = os.getloadavg()[0]
            note = f" ({errors} errors)" if errors else ""
            print(f"  {label:<16}{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}  {met(label, rps, p50, p99, ceiling):<5}"
                  f"{TARGETS.get(label, 'ceiling' if label == '/healthz' else '')}  [load {load:.2f}]{note}",
                  flush=True)
            if label.startswith("expand"):
                # the latency of one page on its own: with 16 clients on 2 cores p50 is mostly queueing
                rps, p50, p99, errors = drive(port, [pool[i % len(pool)] for i in range(max(n // 4, 20))], 1)
                print(f"  {label + ' x1':<16}{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}  {met(label, rps, p50, p99, 0):<5}"
                      f"one client  [load {os.getloadavg()[0]:.2f}]", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--pg", default=os.environ.get("TERMSVC_TEST_POSTGRES_URL"))
    parser.add_argument("--only", default="", help="comma-separated endpoint labels (healthz always runs)")
    args = parser.parse_args()
    only = {o for o in args.only.split(",") if o}
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    for engine_name in [e for e in args.engines.split(",") if e]:
        url = store_url(engine_name, args.scale, args.pg)
        ensure_loaded(url, args.scale)
        fixtures = prepare(url, args.scale)
        bench(engine_name, url, fixtures, args.requests, args.clients, only)


if __name__ == "__main__":
    main()
