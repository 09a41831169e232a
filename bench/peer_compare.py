"""termsvc beside a peer FHIR terminology server (FHIRsmith, the engine behind tx.fhir.org), in one run.

    .venv/bin/python bench/peer_compare.py --termsvc http://127.0.0.1:8080/fhir \\
        --peer http://127.0.0.1:18600/tx/r4 [--duration 5] [--warmup 2] [--rounds 3] [--conns 1,16] [--only ...]

Both servers must serve the same content: `../shared/peers/fhirsmith/` sets FHIRsmith up offline and its
README lists what to load into termsvc (THO 7.0.1, the LOINC subset, FHIRsmith's SNOMED CT subset and the
kit's local CodeSystem and ValueSet). The cases are the kit's (`bench.sh`): $lookup of LOINC, SNOMED CT, a FHIR
core and a local code system; CodeSystem and ValueSet $validate-code (GET, and POST of a Parameters body);
$expand of administrative-gender, a local is-a value set, observation-codes (all of LOINC) and v3-ActCode.

Each case is probed on both servers first (HTTP 200 and the same expansion total, else skipped). Then, per case
and connection count, the servers alternate (termsvc, peer, termsvc, peer, ...) for `--rounds` rounds: `wrk -t1
-cN`, a warm-up, then `--duration` seconds with `--latency`. Printed per measurement: req/s, p50 and p99 and the
1-minute load average (`uptime`) before it; at the end a table of the medians over the rounds, the ratio
termsvc/peer of req/s, and the targets (ratio >= 1.5; p99 < 50 ms except the large expansions). Loopback only."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

GENDER = "http://hl7.org/fhir/administrative-gender"
POST_BODY = json.dumps({"resourceType": "Parameters", "parameter": [
    {"name": "url", "valueUri": "http://hl7.org/fhir/ValueSet/administrative-gender"},
    {"name": "coding", "valueCoding": {"system": GENDER, "code": "female", "display": "Female"}}]})

# name, path below the base, POST body (None: GET), a large expansion (no p99 target)
CASES: list[tuple[str, str, str | None, bool]] = [
    ("lookup-loinc", "CodeSystem/$lookup?system=http://loinc.org&code=100007-4", None, False),
    ("lookup-snomed", "CodeSystem/$lookup?system=http://snomed.info/sct&code=192008", None, False),
    ("lookup-fhircs", f"CodeSystem/$lookup?system={GENDER}&code=male", None, False),
    ("lookup-localcs", "CodeSystem/$lookup?system=http://example.org/fhir/CodeSystem/peer-test&code=G1-2", None,
     False),
    ("validate-cs-loinc", "CodeSystem/$validate-code?url=http://loinc.org&code=100007-4", None, False),
    ("validate-cs-fhir", f"CodeSystem/$validate-code?url={GENDER}&code=male", None, False),
    ("validate-vs-fhir", "ValueSet/$validate-code?url=http://hl7.org/fhir/ValueSet/administrative-gender"
     f"&system={GENDER}&code=female", None, False),
    ("validate-vs-post", "ValueSet/$validate-code", POST_BODY, False),
    ("expand-gender", "ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender", None, False),
    ("expand-local-isa", "ValueSet/$expand?url=http://example.org/fhir/ValueSet/peer-test-g1", None, False),
    ("expand-obscodes", "ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/observation-codes", None, True),
    ("expand-actcode", "ValueSet/$expand?url=http://terminology.hl7.org/ValueSet/v3-ActCode", None, True),
]
LOOPBACK = re.compile(r"^http://(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d{1,5})?(/.*)?$")
RATIO_TARGET = 1.5
P99_TARGET_MS = 50.0


@dataclass
class Measure:
    req_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    load1: str


@dataclass
class Cell:
    """The measurements of one case at one connection count, per server."""
    runs: dict[str, list[Measure]] = field(default_factory=lambda: {"termsvc": [], "peer": []})


def load1() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout
    return out.rsplit("load average", 1)[-1].lstrip("s: ").split(",")[0].strip()


def request(url: str, body: str | None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body.encode() if body else None, method="POST" if body else "GET",
                                 headers={"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except OSError:  # not listening, reset, timed out
        return 0, b""


def _ms(value: str) -> float:
    """wrk's latencies: 850.00us, 1.23ms, 1.20s, 2.00m."""
    for suffix, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * scale
    return float("nan")


def parse_wrk(out: str, load: str) -> Measure:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:(.*)", out)
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(n) for n in re.findall(r"\d+", sock.group(1)))
    return Measure(float(rps.group(1)) if rps else 0.0, _ms(p50.group(1)) if p50 else float("nan"),
                   _ms(p99.group(1)) if p99 else float("nan"), errors, load)


def wrk(url: str, conns: int, seconds: int, script: str | None, latency: bool) -> str:
    args = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-H", "Accept: application/fhir+json"]
    if latency:
        args.append("--latency")
    if script:
        args += ["-s", script]
    proc = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30)
    return proc.stdout + proc.stderr


def post_script(body: str, folder: Path) -> str:
    path = folder / "post.lua"
    path.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/fhir+json"\n'
                    f"wrk.body = {json.dumps(body)}\n")
    return str(path)


def probe(bases: dict[str, str], path: str, body: str | None) -> str | None:
    """None when both servers answer 200, else why not. Different expansion totals are said, not skipped."""
    totals = {}
    for name, base in bases.items():
        status, payload = request(f"{base}/{path}", body)
        if status != 200:
            return f"{name} HTTP {status}"
        answer = json.loads(payload)
        totals[name] = (answer.get("expansion") or {}).get("total")
    if len(set(totals.values())) > 1:
        print(f"# note {path}: expansion totals differ: {totals}")
    return None


def run(args: argparse.Namespace) -> dict[tuple[str, int], Cell]:
    bases = {"termsvc": args.termsvc.rstrip("/"), "peer": args.peer.rstrip("/")}
    cells: dict[tuple[str, int], Cell] = {}
    cases = [c for c in CASES if not args.only or c[0] in args.only]
    with tempfile.TemporaryDirectory() as tmp:
        script = post_script(POST_BODY, Path(tmp))
        runnable = []
        for name, path, body, large in cases:
            why = probe(bases, path, body)
            if why:
                print(f"# skipped {name}: {why}")
            else:
                runnable.append((name, path, body, large))
        total = len(runnable) * len(args.conns) * args.rounds * 2 * (args.warmup + args.duration)
        print(f"# {len(runnable)} cases, about {total // 60} min {total % 60} s; {os.cpu_count()} CPUs")
        print(f"{'time':8} {'server':7} {'case':18} {'conns':>5} {'req/s':>9} {'p50ms':>8} {'p99ms':>8} "
              f"{'errors':>6} load1")
        for name, path, body, _ in runnable:
            for conns in args.conns:
                cell = cells.setdefault((name, conns), Cell())
                for _ in range(args.rounds):
                    for server, base in bases.items():
                        url = f"{base}/{path}"
                        lua = script if body else None
                        if args.warmup:
                            wrk(url, conns, args.warmup, lua, False)
                        load = load1()
                        m = parse_wrk(wrk(url, conns, args.duration, lua, True), load)
                        cell.runs[server].append(m)
                        print(f"{time.strftime('%H:%M:%S')} {server:7} {name:18} {conns:5} {m.req_s:9.1f} "
                              f"{m.p50_ms:8.2f} {m.p99_ms:8.2f} {m.errors:6} {load}", flush=True)
    return cells


def report(cells: dict[tuple[str, int], Cell]) -> None:
    large = {name for name, _, _, big in CASES if big}
    print(f"\n# medians over rounds; ratio = termsvc req/s / peer req/s (target >= {RATIO_TARGET}); "
          f"p99 target < {P99_TARGET_MS:.0f} ms except large expansions")
    print(f"{'case':18} {'conns':>5} {'termsvc':>9} {'peer':>9} {'ratio':>6} {'t_p99ms':>8} {'p_p99ms':>8} "
          f"{'load1':>11} {'errors':>7}  met")
    for (name, conns), cell in cells.items():
        t, p = cell.runs["termsvc"], cell.runs["peer"]
        if not t or not p:
            continue
        tr, pr = statistics.median(m.req_s for m in t), statistics.median(m.req_s for m in p)
        tp99, pp99 = statistics.median(m.p99_ms for m in t), statistics.median(m.p99_ms for m in p)
        ratio = tr / pr if pr else float("inf")
        loads = sorted(float(m.load1) for m in t + p)
        met = ratio >= RATIO_TARGET and (name in large or tp99 < P99_TARGET_MS)
        print(f"{name:18} {conns:5} {tr:9.1f} {pr:9.1f} {ratio:6.2f} {tp99:8.2f} {pp99:8.2f} "
              f"{loads[0]:5.2f}-{loads[-1]:<5.2f} {sum(m.errors for m in t)}/{sum(m.errors for m in p):<5} "
              f"{'yes' if met else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--termsvc", required=True, help="termsvc's FHIR base, e.g. http://127.0.0.1:8080/fhir")
    parser.add_argument("--peer", required=True, help="the peer's FHIR base, e.g. http://127.0.0.1:18600/tx/r4")
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server, case and connection count")
    parser.add_argument("--conns", type=lambda s: [int(c) for c in s.split(",")], default=[1, 16])
    parser.add_argument("--only", type=lambda s: set(s.split(",")), default=None, help="case names, comma-separated")
    args = parser.parse_args()
    for base in (args.termsvc, args.peer):
        if not LOOPBACK.match(base):
            sys.exit(f"loopback only (http://127.x.x.x, localhost or [::1]), not {base}")
    if not all(1 <= c <= 256 for c in args.conns) or not 1 <= args.duration <= 120 or not 1 <= args.rounds <= 9:
        sys.exit("conns 1-256, duration 1-120 s, rounds 1-9")
    print(f"# termsvc={args.termsvc} peer={args.peer} {time.strftime('%Y-%m-%dT%H:%M:%S%z')} "
          f"duration {args.duration}s, warm-up {args.warmup}s, rounds {args.rounds}, conns {args.conns}")
    report(run(args))


if __name__ == "__main__":
    main()
