"""Planner statistics after a bulk write, so the next query does not plan for empty tables.

PostgreSQL plans from the row counts its last ``ANALYZE`` saw. Autovacuum analyzes a table once
about 10% of it has changed, but only on its next round, and not at all while its workers are busy
elsewhere. A first backfill leaves tables it never analyzed, and the planner then takes them for a
row or two: the shipping stage's ready-orders query, a join of ``orders`` with
``v_unprocessed_orders``, ran as a nested loop over every pair of orders (minutes for 10,000
orders, measured in ``bench/bench_cycle.py``). A run that has just written a large share of a table
therefore analyzes it itself, the same rule autovacuum applies, without the wait.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, text

from wishflow.warehouse.schema import metadata

#: What a pull writes in bulk, and what validation writes.
PULL_TABLES = ("orders", "order_events", "order_validation_queue")
VALIDATION_TABLES = ("order_validations", "order_validation_failures", "order_validation_queue")
#: The ``orders`` columns the warehouse's own queries and views filter, join, group or sort on: the
#: planner needs their statistics right after a backfill. The rest (the raw payload, names, addresses,
#: ...) wait for autovacuum's next full ``ANALYZE``; computing their statistics was more than half of
#: the ``ANALYZE`` (0.88 s -> 0.36-0.40 s at 100,000 orders, bench/PROFILE.md).
PLANNER_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (
        "store",
        "order_id",
        "state",
        "updated_at",
        "expected_ship_time",
        "order_types",
        "first_seen_run_id",
        "last_run_id",
        "tracking_number",
        "processing_status",
        "shipped_at",
        "delivered_at",
        "refunded_at",
        "sku",
        "country_code",
    ),
}
#: Fewer rows written than this never trigger an ``ANALYZE`` (incremental runs stay cheap).
MIN_ROWS = 1000
#: A write of at least this share of a table's last known size triggers one (autovacuum's default).
SHARE = 0.1


def refresh_statistics(engine: Engine, tables: Sequence[str], rows_written: int) -> list[str]:
    """``ANALYZE`` each of ``tables`` that ``rows_written`` new or changed rows make stale.

    Returns the tables analyzed. PostgreSQL only: SQLite's planner does not depend on ``ANALYZE`` this
    way, and its ``ANALYZE`` reads whole tables.
    """
    unknown = [name for name in tables if name not in metadata.tables]
    if unknown:
        raise ValueError(f"not warehouse tables: {unknown}")
    if engine.dialect.name != "postgresql" or rows_written < MIN_ROWS:
        return []
    analyzed: list[str] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for checked_table in tables:
            known = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": checked_table}
            ).scalar_one_or_none()
            if known is not None and known >= 0 and rows_written < SHARE * known:
                continue
            columns = PLANNER_COLUMNS.get(checked_table)
            if columns:  # the table's own column names, a constant (a test checks them)
                conn.exec_driver_sql(f'ANALYZE "{checked_table}" ({", ".join(columns)})')
            else:  # a table of our schema (checked above)
                conn.exec_driver_sql(f'ANALYZE "{checked_table}"')
            analyzed.append(checked_table)
    return analyzed
