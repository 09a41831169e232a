"""Test fixtures: every test that touches the store runs on SQLite and on PostgreSQL.

PostgreSQL comes from TERMSVC_TEST_POSTGRES_URL (`.ci/run` starts a throw-away cluster and sets it).
Without it, the PostgreSQL variants are skipped and the run says so at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from termsvc.store.engine import make_engine, normalise_url
from termsvc.store.schema import upgrade

# Hypothesis checks properties, not speed: its per-example deadline (200 ms) fails examples on a busy machine
# (seen: 320-340 ms for one example at load 14 on 2 cores). Speed is measured by bench/, never by a test.
hypothesis_settings.register_profile("termsvc", deadline=None)
hypothesis_settings.load_profile("termsvc")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SAMPLES = REPO / "data-samples"
POSTGRES_URL = os.environ.get("TERMSVC_TEST_POSTGRES_URL")
ENGINES = ["sqlite", "postgresql"]
_SKIP_PG = "PostgreSQL tests skipped: set TERMSVC_TEST_POSTGRES_URL (bash .ci/run does) to run them"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (../shared beside the repository)")
    return path


class _PostgresDatabases:
    """Creates a migrated template database once per worker, then one cheap copy per store."""

    def __init__(self, admin_url: str) -> None:
        self.admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
        self.template = f"termsvc_tpl_{uuid.uuid4().hex[:10]}"
        self.created: list[str] = [self.template]
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        upgrade(self.url_for(self.template))

    def url_for(self, name: str) -> str:
        return make_url(normalise_url(POSTGRES_URL or "")).set(database=name).render_as_string(hide_password=False)

    def new(self) -> str:
        name = f"termsvc_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def _postgres() -> Iterator[_PostgresDatabases | None]:
    if not POSTGRES_URL:
        yield None
        return
    databases = _PostgresDatabases(POSTGRES_URL)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def new_store_url(_postgres: _PostgresDatabases | None, tmp_path_factory: pytest.TempPathFactory
                  ) -> Callable[[str], str]:
    """Make a fresh, migrated, empty store on the named engine and return its URL."""
    sqlite_template: list[Path] = []

    def make(engine_name: str) -> str:
        if engine_name == "postgresql":
            if _postgres is None:
                pytest.skip(_SKIP_PG)
            return _postgres.new()
        folder = tmp_path_factory.mktemp("store")
        path = folder / "termsvc.db"
        if not sqlite_template:
            template = tmp_path_factory.mktemp("template") / "template.db"
            upgrade(f"sqlite:///{template}")
            sqlite_template.append(template)
        path.write_bytes(sqlite_template[0].read_bytes())
        return f"sqlite:///{path}"

    return make


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(engine_name: str, new_store_url: Callable[[str], str]) -> str:
    return new_store_url(engine_name)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(store_url, pool_size=4)
    yield eng
    eng.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not POSTGRES_URL:
        terminalreporter.write_line(_SKIP_PG, yellow=True, bold=True)
