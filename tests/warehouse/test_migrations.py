"""Alembic is the only schema writer: migrations produce exactly the metadata, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from wishflow.warehouse.engine import current_revisions, upgrade
from wishflow.warehouse.schema import metadata


def test_migrations_match_the_metadata(engine: sa.Engine, warehouse_url: str) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert current_revisions(warehouse_url)


def test_upgrade_is_idempotent(warehouse_url: str) -> None:
    before = current_revisions(warehouse_url)
    upgrade(warehouse_url)
    assert current_revisions(warehouse_url) == before
