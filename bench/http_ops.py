"""HTTP throughput and latency of CodeSystem/$lookup and $validate-code, and of reads and searches of the core
resources every store holds, against /healthz (the ceiling).

    .venv/bin/python bench/http_ops.py [--engine sqlite|postgresql|both] [--requests 4000] [--clients 8]

Loads the full ICD-10-CM 2026 release (../shared/data/icd10cm) into a fresh store, starts the server
(uvicorn, one process, loopback only), then drives each endpoint with a bounded number of GET requests from
`--clients` concurrent keep-alive connections and prints req/s, p50 and p99. The client is asyncio on raw
sockets in this process: it shares the machine's two cores with the server, so the figures are a floor.
PostgreSQL needs TERMSVC_TEST_POSTGRES_URL (or --pg-url): an admin URL where a throw-away database is made.

Until `termsvc.loaders.icd10cm` exists the bench loads the codes and long descriptions of the CMS order
file instead (same codes bar the 7th-character years' differences), and says so."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from termsvc.store.engine import make_engine, normalise_url  # noqa: E402
from termsvc.store.schema import upgrade  # noqa: E402

ICD = REPO.parent / "shared" / "data" / "icd10cm"
SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"


def load_icd10cm(url: str) -> str:
    engine = make_engine(url)
    try:
        try:
            import termsvc.loaders.icd10cm  # noqa: F401
        except ImportError:
            return _load_order_file(engine)
        from termsvc.ops.loading import run_load

        started = time.perf_counter()
        run_load(engine, "icd10cm", ICD / "icd10c-tabular-April-1-2026.xml")
        return f"ICD-10-CM tabular XML via loaders/icd10cm.py ({time.perf_counter() - started:.1f} s)"
    finally:
        engine.dispose()


def _load_order_file(engine: object) -> str:
    from termsvc.store.loadrun import load_run

    path = ICD / "icd10cm_order_2025.reconstructed.txt"
    with load_run(engine, "icd10cm", str(path)) as run:  # type: ignore[arg-type]
        cs = run.code_system({"resourceType": "CodeSystem", "url": SYSTEM, "version": "2025", "name": "ICD10CM",
                              "status": "active", "content": "complete"})
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                code = line[6:13].strip()
                dotted = code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"
                cs.add_concept(dotted, line[77:].strip(), abstract=line[14] != "1")
        cs.finish()
    return "FALLBACK: CMS order file codes (loaders/icd10cm.py not present yet)"


def sample_codes(url: str, n: int) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT c.code, c.display FROM concept c JOIN code_system s ON "
                                 "s.code_system_id = c.code_system_id WHERE s.url = :u AND s.is_current"),
                            {"u": SYSTEM}).all()
    engine.dispose()
    random.seed(7)
    picked = random.sample(rows, min(n, len(rows)))
    return [(r[0], r[1] or "") for r in picked]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TERMSVC_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "termsvc.api.asgi:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env, cwd=REPO)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


async def _client(port: int, paths: list[str], latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in paths:
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/fhir+json\r\n\r\n".encode()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode() + " " + body[:200].decode(errors="replace"))
    finally:
        writer.close()


def drive(port: int, paths: list[str], clients: int) -> tuple[float, float, float, int]:
    """(req/s, p50 ms, p99 ms, errors) for `paths` spread over `clients` connections."""
    latencies: list[float] = []
    errors: list[str] = []
    shares = [paths[i::clients] for i in range(clients)]

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(_client(port, share, latencies, errors) for share in shares))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    if errors:
        print(f"    {len(errors)} non-200 answers, first: {errors[0]}")
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(paths) / elapsed, statistics.median(ordered) * 1000, p99 * 1000, len(errors)


def bench_engine(name: str, url: str, requests: int, clients: int) -> None:
    upgrade(url)
    started = time.perf_counter()
    source = load_icd10cm(url)
    print(f"[{name}] store ready in {time.perf_counter() - started:.1f} s: {source}")
    codes = sample_codes(url, 2000)
    port = free_port()
    server = start_server(url, port)
    try:
        lookup = [f"/fhir/CodeSystem/$lookup?{urlencode({'system': SYSTEM, 'code': c})}" for c, _ in codes]
        validate = [f"/fhir/CodeSystem/$validate-code?{urlencode({'url': SYSTEM, 'code': c, 'display': d})}"
                    for c, d in codes]
        reads = ["/fhir/ValueSet/administrative-gender", "/fhir/CodeSystem/administrative-gender"]
        searches = ["/fhir/ValueSet?name=Administrative&_count=10", "/fhir/CodeSystem?_count=10&_summary=true"]
        endpoints = {"/healthz": ["/healthz"], "$lookup": lookup, "$validate-code": validate, "read": reads,
                     "search": searches}
        print(f"[{name}] {requests} GET requests each, {clients} concurrent keep-alive clients, loopback")
        print(f"  {'endpoint':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        results: dict[str, float] = {}
        for label, pool in endpoints.items():
            drive(port, [pool[i % len(pool)] for i in range(min(300, requests))], clients)  # warm-up
            rps, p50, p99, _ = drive(port, [pool[i % len(pool)] for i in range(requests)], clients)
            results[label] = rps
            print(f"  {label:<16}{rps:>10.0f}{p50:>10.2f}{p99:>10.2f}")
        ratio = results["$validate-code"] / results["/healthz"]
        print(f"  $validate-code / healthz = {ratio:.2f} (target >= 0.50)")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pg-url", default=os.environ.get("TERMSVC_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if args.engine in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            bench_engine("sqlite", f"sqlite:///{folder}/bench.db", args.requests, args.clients)
    if args.engine in ("postgresql", "both"):
        if not args.pg_url:
            print("[postgresql] skipped: set TERMSVC_TEST_POSTGRES_URL or --pg-url")
            return
        admin = create_engine(normalise_url(args.pg_url), isolation_level="AUTOCOMMIT")
        database = f"termsvc_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            url = make_url(normalise_url(args.pg_url)).set(database=database).render_as_string(hide_password=False)
            bench_engine("postgresql", url, args.requests, args.clients)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
