"""Task: refresh the planner's statistics after a run wrote a large share of some tables."""

from __future__ import annotations

from prefect import task

from tasks.common import DB_TASK, warehouse_engine
from wishflow.warehouse.statistics import refresh_statistics


@task(name="refresh-planner-statistics", **DB_TASK)
def refresh_planner_statistics(warehouse_block: str | None, tables: list[str], rows_written: int) -> list[str]:
    """``ANALYZE`` the tables ``rows_written`` rows made stale (PostgreSQL); the tables analyzed.

    Takes the ``Warehouse`` block's name (None: the environment's), resolved here, inside the task.
    """
    return refresh_statistics(warehouse_engine(warehouse_block), tables, rows_written)
