"""Hostile requests and loads against a running server: does anyone else still get answered?

For each engine: a store with a 20,000-concept is-a tree, a real server (uvicorn, one process), then
 1. each hostile request (catastrophic regexes on display, a compose of 3,000 is-a includes, 200 identical
    includes) sent while /healthz is asked every 10 ms: /healthz p50/p99/max, the hostile answer and its time;
 2. a SNOMED CT load (synthetic RF2 from synth_snomed.py, `termsvc load snomed` in its own process) while 4
    clients read ($lookup, $validate-code, $expand) and 2 write (PUT ValueSet) for the whole load: reads
    failed, read p50/p99, write statuses and 5xx count, audit rows against write attempts, /healthz p99.
Prints `uptime` before and after: the figures mean little without the machine's load.

Usage: python bench/hostile.py [--engines sqlite,postgresql] [--scale 0.1] [--budget 10]
PostgreSQL needs TERMSVC_TEST_POSTGRES_URL (a server the script may create a database on)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
TREE = "http://example.org/cs/tree"
TREE_SIZE = 20_000
PYTHON = sys.executable


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def store_url(engine: str) -> str:
    if engine == "sqlite":
        path = OUT / "hostile" / "store.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = os.environ.get("TERMSVC_TEST_POSTGRES_URL")
    if not admin:
        raise SystemExit("set TERMSVC_TEST_POSTGRES_URL for the PostgreSQL run")
    from termsvc.store.engine import normalise_url

    engine_ = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    with engine_.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "termsvc_bench_hostile" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "termsvc_bench_hostile"'))
    engine_.dispose()
    return make_url(normalise_url(admin)).set(database="termsvc_bench_hostile").render_as_string(hide_password=False)


def prepare(url: str) -> str:
    """Migrate, load the tree, issue a write token; returns the token."""
    from termsvc.auth import tokens
    from termsvc.store.engine import make_engine
    from termsvc.store.loadrun import load_run
    from termsvc.store.schema import upgrade

    upgrade(url)
    engine = make_engine(url, pool_size=2)
    with load_run(engine, "bench", "tree") as run:
        writer = run.code_system({"url": TREE, "version": "1", "content": "complete"})
        for n in range(TREE_SIZE):
            writer.add_concept(f"c{n}", f"Concept number {n} of the tree")
            if n:
                writer.add_edge(f"c{(n - 1) // 4}", f"c{n}")
        writer.finish()
    token = tokens.issue(engine, "bench", "system/*.cud system/AuditEvent.rs")
    engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, budget: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "TERMSVC_DATABASE_URL": url, "TERMSVC_REQUEST_TIME_BUDGET": str(budget),
           "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([PYTHON, "-m", "uvicorn", "termsvc.api.asgi:app", "--port", str(port),
                                "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


class Prober:
    """Asks /healthz every 10 ms, from a process of its own (in this one its thread would wait for the
    readers' and writers' threads to give up the GIL, and that wait would be counted against the server),
    until stopped; keeps each answer's time (a failure counts as 30 s)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.times: list[float] = []
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen([PYTHON, __file__, "--probe", self.base], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self._process.stdout.readline()  # "ready": probing has begun

    def stop(self) -> None:
        assert self._process is not None
        out, _ = self._process.communicate("stop\n", timeout=120)
        self.times = json.loads(out)


def probe(base: str) -> None:
    """The prober's process: probe until a line arrives on stdin, then print the times as JSON."""
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    times: list[float] = []
    print("ready", flush=True)
    with httpx.Client(base_url=base, timeout=30) as client:
        while not done.is_set():
            started = time.perf_counter()
            try:
                ok = client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append(time.perf_counter() - started if ok else 30.0)
            time.sleep(0.01)
    print(json.dumps(times))


def expand_body(compose: dict[str, Any]) -> dict[str, Any]:
    vs = {"resourceType": "ValueSet", "url": "http://example.org/vs/hostile", "status": "active", "compose": compose}
    return {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": vs},
                                                        {"name": "count", "valueInteger": 10}]}


def is_a(code: str) -> dict[str, Any]:
    return {"system": TREE, "filter": [{"property": "concept", "op": "is-a", "value": code}]}


HOSTILE = {
    "regex (.|.)*! on display": {"include": [{"system": TREE, "filter": [
        {"property": "display", "op": "regex", "value": "(.|.)*!"}]}]},
    "regex ten .* on display": {"include": [{"system": TREE, "filter": [
        {"property": "display", "op": "regex", "value": ".*" * 10 + "!"}]}]},
    "200 identical is-a includes": {"include": [is_a("c1")] * 200},
    "3000 is-a includes": {"include": [is_a(f"c{n}") for n in range(3000)]},
}


def hostile_phase(base: str) -> None:
    for name, compose in HOSTILE.items():
        prober = Prober(base)
        prober.start()
        time.sleep(0.3)
        started = time.perf_counter()
        answer = httpx.post(base + "/fhir/ValueSet/$expand", json=expand_body(compose), timeout=600)
        took = time.perf_counter() - started
        time.sleep(0.2)
        prober.stop()
        print(f"  {name:30s} -> {answer.status_code} in {took:6.2f} s | /healthz n={len(prober.times)} "
              f"p50 {pct(prober.times, 0.5):6.1f} ms p99 {pct(prober.times, 0.99):6.1f} ms "
              f"max {max(prober.times) * 1000:7.1f} ms")


def snomed_release(scale: float) -> Path:
    out = OUT / f"snomed-hostile-{scale:g}"
    marker = out / ".generated.json"
    if not (marker.exists() and json.loads(marker.read_text()).get("scale") == scale):
        subprocess.run([PYTHON, str(REPO / "bench" / "synth_snomed.py"), "--scale", str(scale), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
    return next(out.glob("SnomedCT_*"))


def audit_rows(base: str, token: str) -> int:
    answer = httpx.get(base + "/fhir/AuditEvent", params={"_summary": "count"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return int(answer.json().get("total", 0))


def load_phase(url: str, base: str, token: str, release: Path) -> None:
    stop = threading.Event()
    reads: list[float] = []
    read_failures = Counter[str]()
    writes = Counter[int]()
    lock = threading.Lock()
    before = audit_rows(base, token)
    read_requests = [("/fhir/CodeSystem/$lookup", {"system": TREE, "code": "c77"}),
                     ("/fhir/CodeSystem/$validate-code", {"url": TREE, "code": "c1234"}),
                     ("/fhir/ValueSet/$expand", {"url": "http://hl7.org/fhir/ValueSet/administrative-gender"}),
                     ("/fhir/CodeSystem/$lookup", {"system": TREE, "code": "c19999"})]

    def reader(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while not stop.is_set():
                path, params = read_requests[n % len(read_requests)]
                started = time.perf_counter()
                try:
                    status = client.get(path, params=params).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__  # type: ignore[assignment]
                with lock:
                    reads.append(time.perf_counter() - started)
                    if status != 200:
                        read_failures[str(status)] += 1

    def writer(n: int) -> None:
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            i = 0
            while not stop.is_set():
                i += 1
                vs = {"resourceType": "ValueSet", "url": f"http://example.org/vs/bench-{n}-{i % 5}", "version": "1",
                      "status": "active", "compose": {"include": [{"system": TREE, "concept": [{"code": "c1"}]}]}}
                try:
                    status = client.put(f"/fhir/ValueSet/bench-{n}-{i % 5}", json=vs).status_code
                except httpx.HTTPError:
                    status = 599
                with lock:
                    writes[status] += 1
                time.sleep(0.05)

    prober = Prober(base)
    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    prober.start()
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    loaded = subprocess.run([PYTHON, "-m", "termsvc.cli.main", "--db", url, "load", "snomed", str(release)],
                            env=env, capture_output=True, text=True, check=False)
    load_seconds = time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join()
    prober.stop()
    attempts = sum(writes.values())
    deadline = time.monotonic() + 30  # audit rows kept back during the load are written once it is over
    audited = audit_rows(base, token) - before
    while audited < attempts and time.monotonic() < deadline:
        time.sleep(1)
        audited = audit_rows(base, token) - before
    failure = "" if loaded.returncode == 0 else loaded.stderr.strip().splitlines()[-1:]
    print(f"  load: exit {loaded.returncode} in {load_seconds:.1f} s {failure or ''}")
    print(f"  reads: {len(reads)}, failed {sum(read_failures.values())} {dict(read_failures)}, "
          f"p50 {pct(reads, 0.5):.1f} ms, p99 {pct(reads, 0.99):.1f} ms, max {max(reads) * 1000:.0f} ms")
    print(f"  writes: {attempts} {dict(sorted(writes.items()))}, 5xx {sum(v for k, v in writes.items() if k >= 500)}"
          f"; audit rows {audited} for {attempts} attempts")
    print(f"  /healthz during the load: n={len(prober.times)} p50 {pct(prober.times, 0.5):.1f} ms "
          f"p99 {pct(prober.times, 0.99):.1f} ms max {max(prober.times) * 1000:.0f} ms")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        probe(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--scale", type=float, default=0.1, help="size of the synthetic SNOMED CT release "
                        "(1.0 = full size, 370,000 active concepts)")
    parser.add_argument("--budget", type=float, default=10.0, help="TERMSVC_REQUEST_TIME_BUDGET of the server")
    parser.add_argument("--skip-load", action="store_true", help="only the hostile requests")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    print(f"before: {uptime()}")
    release = None if args.skip_load else snomed_release(args.scale)
    for engine in args.engines.split(","):
        url = store_url(engine)
        token = prepare(url)
        process, base = start_server(url, args.budget)
        try:
            print(f"{engine}: hostile requests (budget {args.budget:g} s)")
            hostile_phase(base)
            if release is not None:
                print(f"{engine}: SNOMED CT load (scale {args.scale:g}) with 4 readers and 2 writers")
                load_phase(url, base, token, release)
        finally:
            process.terminate()
            process.wait(30)
        print(f"after {engine}: {uptime()}")


if __name__ == "__main__":
    main()
