"""Audit rows that cannot be written at once (the store's write lock held, as a SQLite load holds it) are spooled
to disk, written once the lock is free, replayed by the next process when the one that spooled them ended
first, each exactly once, and a spool that cannot be written costs the caller nothing (logged). On SQLite and
PostgreSQL: there the lock is the audit table's own, as a schema change would take it (a load never blocks
PostgreSQL's audit rows, so it spools only when told where)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from termsvc.api.app import create_app
from termsvc.auth import audit, tokens
from termsvc.settings import Settings
from termsvc.store.engine import make_engine

REPO = Path(__file__).resolve().parent.parent
WAIT = 0.5


@contextmanager
def audit_lock_held(engine: Engine) -> Iterator[None]:
    """Another transaction holds what an audit insert needs: SQLite's one write lock (BEGIN IMMEDIATE, as a load
    takes it), PostgreSQL's audit table."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        transaction = conn.begin()
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE audit_entry IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            transaction.rollback()


def _value_set(n: int) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": f"vs{n}", "url": f"http://example.org/vs/s{n}", "version": "1",
            "status": "active", "compose": {"include": [{"system": "http://example.org/cs/x"}]}}


@contextmanager
def app_with_lock_held(engine: Engine, store_url: str, spool: Path) -> Iterator[Callable[[int], int]]:
    """An app spooling to `spool`, and a PUT of ValueSet/vs{n} through it while the audit lock is held, which
    answers the write's status (SQLite refuses it after its wait, PostgreSQL writes it)."""
    token = tokens.issue(engine, f"writer-{os.getpid()}-{time.monotonic_ns()}", "system/*.cud")
    app = create_app(Settings(database_url=store_url, write_wait=WAIT, audit_spool_dir=spool), engine=engine)
    with TestClient(app) as client, audit_lock_held(engine):
        yield lambda n: client.put(f"/fhir/ValueSet/vs{n}", json=_value_set(n),
                                   headers={"Authorization": f"Bearer {token}"}).status_code


def earlier_process(store_url: str, spool: str) -> None:
    """Run in a process of its own: a write whose audit row is spooled, then the process ends at once (as a
    killed one would), the row not yet in the store."""
    engine = make_engine(store_url)
    with app_with_lock_held(engine, store_url, Path(spool)) as put:
        print(put(1), flush=True)
        os._exit(0)


def _spooled(spool: Path) -> list[dict[str, Any]]:
    return [orjson.loads(path.read_bytes()) for path in sorted(spool.glob("*.jsonl"))] if spool.is_dir() else []


def _audited(engine: Engine, resource_id: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT event_key, interaction, http_status FROM audit_entry WHERE resource_id = :id"),
            {"id": resource_id}).all()]


def _eventually(engine: Engine, resource_id: str) -> list[tuple[Any, ...]]:
    """The audit rows of `resource_id` once there is one (the background writer's pace), or none after 30 s."""
    deadline = time.monotonic() + 30
    while not (found := _audited(engine, resource_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _drained(spool: Path) -> list[str]:
    """The names of the files left to replay once there are none (the background writer's pace), or after 30 s."""
    deadline = time.monotonic() + 30
    while (left := sorted(path.name for path in spool.glob("*.jsonl"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


STATUS = {"sqlite": 409, "postgresql": 201}


@pytest.mark.postgres
def test_a_write_attempt_whose_audit_row_waits_on_the_lock_leaves_a_spool_entry(
        engine: Engine, store_url: str, engine_name: str, tmp_path: Path) -> None:
    spool = tmp_path / "not-yet" / "spool"  # missing: made when first needed
    with app_with_lock_held(engine, store_url, spool) as put:
        assert put(1) == STATUS[engine_name]
        [row] = _spooled(spool)
        assert (row["interaction"], row["resource_type"], row["resource_id"], row["http_status"]) == (
            "create", "ValueSet", "vs1", STATUS[engine_name])
    assert _eventually(engine, "vs1") == [(row["event_key"], "create", STATUS[engine_name])]
    assert _drained(spool) == []


@pytest.mark.postgres
def test_the_next_process_writes_what_an_ended_one_spooled_exactly_once(
        engine: Engine, store_url: str, engine_name: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    earlier = subprocess.run([sys.executable, "-c", "from tests.test_audit_spool import earlier_process; "
                              f"earlier_process({store_url!r}, {str(spool)!r})"], cwd=REPO, capture_output=True,
                             text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert earlier.stdout.strip() == str(STATUS[engine_name]), earlier.stderr[-2000:]
    [row] = _spooled(spool)
    assert _audited(engine, "vs1") == []
    kept = tmp_path / "copy"
    shutil.copytree(spool, kept)

    with TestClient(create_app(Settings(database_url=store_url, audit_spool_dir=spool), engine=engine)):
        assert _eventually(engine, "vs1") == [(row["event_key"], "create", STATUS[engine_name])]
        assert _drained(spool) == []
    # a replay that ended after its commit, before deleting its files: the next one finds them again
    shutil.copytree(kept, spool, dirs_exist_ok=True)
    with TestClient(create_app(Settings(database_url=store_url, audit_spool_dir=spool), engine=engine)):
        assert _drained(spool) == []
    assert _audited(engine, "vs1") == [(row["event_key"], "create", STATUS[engine_name])]


@pytest.mark.postgres
def test_a_spool_that_cannot_be_written_is_logged_and_the_caller_still_answered(
        engine: Engine, store_url: str, engine_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    spool = not_a_directory / "spool"
    with caplog.at_level(logging.ERROR, logger="termsvc.audit"), \
            app_with_lock_held(engine, store_url, spool) as put:
        assert put(1) == STATUS[engine_name]
    assert any(str(spool) in r.getMessage() and "kept in memory" in r.getMessage() for r in caplog.records), \
        caplog.text
    # kept in this process instead, and written once the lock is free
    assert [found[1:] for found in _eventually(engine, "vs1")] == [("create", STATUS[engine_name])]


@pytest.mark.postgres
def test_by_default_the_spool_is_beside_a_sqlite_store_and_postgresql_has_none(
        engine: Engine, engine_name: str, tmp_path: Path) -> None:
    where = audit.spool_directory(None, engine)
    if engine_name == "sqlite":
        database = Path(str(engine.url.database)).resolve()
        assert where is not None and where.parent == database.parent and where != database
    else:
        assert where is None
    assert audit.spool_directory(tmp_path, engine) == tmp_path


@pytest.mark.postgres
def test_a_spool_file_that_holds_no_audit_row_is_set_aside_and_the_others_written(
        engine: Engine, store_url: str, engine_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = tmp_path / "spool"
    with app_with_lock_held(engine, store_url, spool) as put:
        assert put(1) == STATUS[engine_name]
        # files this spool did not write: cut short, and JSON that is not an audit row
        (spool / "cut.jsonl").write_bytes(b'{"interaction": "upd')
        (spool / "other.jsonl").write_bytes(b'{"interaction": "update", "http_status": 200}')
    with caplog.at_level(logging.ERROR, logger="termsvc.audit"):
        assert [found[1:] for found in _eventually(engine, "vs1")] == [("create", STATUS[engine_name])]
        assert _drained(spool) == []
    assert (spool / "cut.jsonl.bad").read_bytes() == b'{"interaction": "upd'
    assert (spool / "other.jsonl.bad").is_file()
    assert "cut.jsonl" in caplog.text and "other.jsonl" in caplog.text
