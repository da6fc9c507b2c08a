"""Tasks that record a flow run in ``pipeline_runs`` (its start, then its outcome).

They take the ``Warehouse`` block's name (None: the environment's warehouse) and resolve it inside
the task: the URL may hold a password, so it never crosses the task boundary.
"""

from __future__ import annotations

from typing import Any

from prefect import task

from tasks.common import DB_TASK, warehouse_engine
from wishflow.warehouse.runs import finish_run, start_run


@task(name="record-run-start", **DB_TASK)
def record_run_start(
    warehouse_block: str | None, run_id: str, store: str, stage: str, parameters: dict[str, Any]
) -> None:
    """Write the run's ``pipeline_runs`` row: running, with its parameters."""
    start_run(warehouse_engine(warehouse_block), run_id, store, stage, parameters)


@task(name="record-run-end", **DB_TASK)
def record_run_end(
    warehouse_block: str | None,
    run_id: str,
    outcome: str,
    counts: dict[str, int] | None = None,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Write the run's outcome, counts, details and error."""
    finish_run(warehouse_engine(warehouse_block), run_id, outcome=outcome, counts=counts, details=details, error=error)
