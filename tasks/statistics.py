"""Task: refresh the planner's statistics after a run wrote a large share of some tables."""

from __future__ import annotations

from prefect import task

from tasks.common import DB_TASK, engine_for
from wishflow.warehouse.statistics import refresh_statistics


@task(name="refresh-planner-statistics", **DB_TASK)
def refresh_planner_statistics(warehouse_url: str, tables: list[str], rows_written: int) -> list[str]:
    """``ANALYZE`` the tables ``rows_written`` rows made stale (PostgreSQL); the tables analyzed."""
    return refresh_statistics(engine_for(warehouse_url), tables, rows_written)
