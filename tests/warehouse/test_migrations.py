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
