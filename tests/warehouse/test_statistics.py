"""After a bulk write the planner counts the tables again, without waiting for autovacuum."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.warehouse.test_orders_writer import order
from wishflow.orders.parse import parse_orders
from wishflow.warehouse.orders_writer import load_orders
from wishflow.warehouse.schema import metadata
from wishflow.warehouse.statistics import PLANNER_COLUMNS, PULL_TABLES, refresh_statistics


def _reltuples(engine: sa.Engine, table: str) -> float:
    with engine.connect() as conn:
        return float(
            conn.exec_driver_sql(f"SELECT reltuples FROM pg_class WHERE oid = to_regclass('{table}')").scalar_one()
        )


def test_a_large_write_is_analyzed_and_a_small_one_is_not(engine: sa.Engine) -> None:
    good, _ = parse_orders([order(i) for i in range(1200)])
    load_orders(engine, "s1", good, run_id="r1")
    analyzed = refresh_statistics(engine, list(PULL_TABLES), 1200)
    if engine.dialect.name != "postgresql":
        assert analyzed == []
        return
    assert analyzed == list(PULL_TABLES)
    # the planner now knows the table's size (never analyzed, PostgreSQL 14+ says -1)
    assert _reltuples(engine, "orders") == 1200
    # the columns the queries filter on are counted; the raw payload waits for autovacuum
    with engine.connect() as conn:
        counted = set(conn.exec_driver_sql("SELECT attname FROM pg_stats WHERE tablename = 'orders'").scalars())
    assert {"state", "expected_ship_time", "last_run_id"} <= counted
    assert "raw" not in counted
    assert "street_address1" not in counted
    assert refresh_statistics(engine, list(PULL_TABLES), 999) == []
    # 1,000 rows more into a table of 1,200 is a large share; into one of 20,000 it is not
    assert refresh_statistics(engine, ["orders"], 1000) == ["orders"]
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE pg_class SET reltuples = 20000 WHERE oid = to_regclass('orders')")
    assert refresh_statistics(engine, ["orders"], 1500) == []


def test_only_warehouse_tables_are_analyzed(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="not warehouse tables"):
        refresh_statistics(engine, ["orders; DROP TABLE orders"], 5000)


def test_the_planner_columns_are_the_tables_own() -> None:
    # a renamed or dropped column fails here, not in a scheduled run's ANALYZE
    for table, columns in PLANNER_COLUMNS.items():
        assert set(columns) <= set(metadata.tables[table].columns.keys()), table
