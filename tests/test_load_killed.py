"""The store survives the loader process being killed mid-load (SIGKILL, so nothing in the process can tidy up).

Version A of a SNOMED CT edition is loaded; a `termsvc load snomed ... --replace` of a bigger release with the
same version runs in a child process and is killed once it is writing. Afterwards version A must be intact and
served, nothing of the half-written load may be visible (no concepts, no code system row, no load record), and
the same load run again must succeed, which it cannot if a lock or a half-finished transaction was left behind.
Both engines."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.ops.loading import run_load
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from termsvc.store.loadrun import LOAD_LOCK_KEY
from tests.conftest import ENGINES, REPO

sys.path.insert(0, str(REPO / "bench"))

import synth_snomed

RELEASE = "20251101"
VERSION = f"http://snomed.info/sct/900000000000207008/version/{RELEASE}"
WRITING_BYTES = 1 << 20  # the child has written this much to its files: SQLite's page cache is spilling
SQLITE_SETTLE_S = 1.0  # or it has held the write lock this long: rows are in the transaction (page cache)


def _generate(out: Path, seed: int, scale: float) -> Path:
    synth_snomed.generate(out, seed=seed, active=int(370_000 * scale), inactive=int(150_000 * scale),
                          descriptions=int(1_600_000 * scale), attributes=int(1_500_000 * scale), release=RELEASE)
    return out


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    small = _generate(tmp_path_factory.mktemp("version_a"), seed=1, scale=0.002)
    big = _generate(tmp_path_factory.mktemp("version_b"), seed=2, scale=0.05)
    return small, big


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, new_store_url: Callable[[str], str]) -> Iterator[tuple[str, Engine]]:
    url = new_store_url(str(request.param))
    engine = make_engine(url, pool_size=2)
    yield url, engine
    engine.dispose()


def _snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "code_systems": conn.execute(text("SELECT code_system_id, url, version, is_current, concept_count "
                                              "FROM code_system ORDER BY code_system_id")).all(),
            "concepts": conn.execute(text("SELECT COUNT(*), MAX(concept_id) FROM concept")).one(),
            "closure": conn.execute(text("SELECT COUNT(*) FROM closure")).scalar_one(),
            "designations": conn.execute(text("SELECT COUNT(*) FROM designation")).scalar_one(),
            "properties": conn.execute(text("SELECT COUNT(*) FROM concept_property")).scalar_one(),
            "loads": conn.execute(text("SELECT load_id, status FROM load_run ORDER BY load_id")).all(),
        }


def _cli_load(url: str, release: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "termsvc.cli.main", "--db", url, "load", "snomed",
                                 str(release), "--replace"], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _written_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def _holds_load_lock(engine: Engine) -> bool:
    """Whether another process is inside a load transaction: the same locks the loader takes."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            # pg_locks is cluster-wide: only this store's database counts (other stores may be loading)
            return bool(conn.execute(text(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"key": LOAD_LOCK_KEY}).scalar_one())
    raw = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        raw.close()


def _copying(engine: Engine) -> bool:
    """PostgreSQL: some session of this database is streaming rows in with COPY (the bulk writer's path)."""
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND query LIKE 'COPY %' AND pid <> pg_backend_pid()")).scalar_one())


def _writing(engine: Engine, pid: int, locked_since: list[float]) -> bool:
    if not _holds_load_lock(engine):
        return False
    if engine.dialect.name == "postgresql":
        return _copying(engine)
    if not locked_since:
        locked_since.append(time.monotonic())
    return _written_bytes(pid) > WRITING_BYTES or time.monotonic() - locked_since[0] > SQLITE_SETTLE_S


def _wait(condition: Callable[[], bool], seconds: float, what: str, proc: subprocess.Popen[bytes] | None = None
          ) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the load ended (exit {proc.returncode}) before {what}; make the release bigger")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def _lookup_display(engine: Engine, code: str) -> str:
    with TestClient(create_app(Settings(database_url="sqlite://"), engine=engine)) as client:
        response = client.get("/fhir/CodeSystem/$lookup", params={"system": "http://snomed.info/sct", "code": code})
    assert response.status_code == 200, response.text
    return next(p["valueString"] for p in response.json()["parameter"] if p["name"] == "display")


def test_killed_load_leaves_the_previous_version_serving_and_the_next_load_succeeds(
        store: tuple[str, Engine], releases: tuple[Path, Path], tmp_path: Path) -> None:
    url, engine = store
    small, big = releases
    run_load(engine, "snomed", small)
    before = _snapshot(engine)
    display_before = _lookup_display(engine, synth_snomed.ROOT)
    log = tmp_path / "load.log"

    proc = _cli_load(url, big, log)
    try:
        locked_since: list[float] = []
        _wait(lambda: _writing(engine, proc.pid, locked_since), 300, "the load was writing", proc)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # PostgreSQL ends the killed client's transaction when it sees the connection drop.
    _wait(lambda: not _holds_load_lock(engine), 60, "the killed load's transaction was gone")
    assert _snapshot(engine) == before
    assert _lookup_display(engine, synth_snomed.ROOT) == display_before
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"

    again = _cli_load(url, big, log)
    assert again.wait(600) == 0, log.read_text(errors="replace")[-3000:]
    after = _snapshot(engine)
    (_, cs_url, cs_version, current, count), = after["code_systems"]
    assert (cs_url, cs_version, current) == ("http://snomed.info/sct", VERSION, True)
    concept_lines = next(big.rglob("sct2_Concept_Snapshot_*")).read_bytes().count(b"\r\n") - 1
    assert count == concept_lines == after["concepts"][0]
    assert [status for _, status in after["loads"]] == ["completed", "completed"]
