"""Alembic is the only schema writer: migrations produce exactly the metadata, on both databases."""

from __future__ import annotations

from pathlib import Path

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


def test_a_flow_process_imports_alembic_only_when_it_migrates(tmp_path: Path) -> None:
    # Alembic and Mako are 9 MB of every flow process that only opens an engine (the pull's, the
    # validation's): they are imported by what migrates or reads revisions
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import sys
        import flows.pull_orders, flows.validate_orders, flows.ship_orders
        from wishflow.warehouse.engine import make_engine, upgrade
        url = "sqlite:///{tmp_path}/w.db"
        with make_engine(url).connect() as conn:
            conn.exec_driver_sql("select 1")
        print("alembic" in sys.modules, "mako" in sys.modules)
        upgrade(url)
        print("alembic" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "True"]


def test_payloads_are_compressed_with_lz4_where_postgresql_has_it(engine: sa.Engine, warehouse_url: str) -> None:
    """Compressing each ~2 KB order payload with pglz was a third of the pull's COPY (migration 0013)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite stores the payload as it is
    from alembic import command

    from wishflow.warehouse.engine import alembic_config

    query = (
        "SELECT attrelid::regclass::text, attcompression FROM pg_attribute WHERE attname = 'raw' AND attrelid IN"
        " ('orders'::regclass, 'refunds'::regclass, 'tickets'::regclass, 'penalties'::regclass,"
        " 'rejected_records'::regclass)"
    )
    with engine.connect() as conn:
        lz4 = conn.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        after = dict(conn.exec_driver_sql(query).all())
    tables = {"orders", "refunds", "tickets", "penalties", "rejected_records"}
    assert after == dict.fromkeys(tables, "l" if lz4 else "")
    try:
        command.downgrade(alembic_config(warehouse_url), "0012_views_unordered")
        with engine.connect() as conn:
            assert dict(conn.exec_driver_sql(query).all()) == dict.fromkeys(tables, "")
    finally:
        upgrade(warehouse_url)
    with engine.connect() as conn:
        assert dict(conn.exec_driver_sql(query).all()) == after
