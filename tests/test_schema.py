"""Schema changes go through Alembic migrations, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from termsvc.store.schema import downgrade, head_revision, is_up_to_date, upgrade
from termsvc.store.tables import metadata


def test_migrated_store_is_at_head(engine: Engine) -> None:
    assert is_up_to_date(engine)


def test_migrations_create_exactly_the_model_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine, store_url: str) -> None:
    downgrade(store_url, "base")
    assert "concept" not in inspect(engine).get_table_names()
    upgrade(store_url)
    assert "concept" in inspect(engine).get_table_names()
    assert head_revision(store_url) is not None
