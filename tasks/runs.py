"""Tasks that record a flow run in ``pipeline_runs`` (its start, then its outcome)."""

from __future__ import annotations

from typing import Any

from prefect import task

from tasks.common import DB_TASK, engine_for
from wishflow.warehouse.runs import finish_run, start_run


@task(name="record-run-start", **DB_TASK)
def record_run_start(warehouse_url: str, run_id: str, store: str, stage: str, parameters: dict[str, Any]) -> None:
    start_run(engine_for(warehouse_url), run_id, store, stage, parameters)


@task(name="record-run-end", **DB_TASK)
def record_run_end(
    warehouse_url: str,
    run_id: str,
    outcome: str,
    counts: dict[str, int] | None = None,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    finish_run(engine_for(warehouse_url), run_id, outcome=outcome, counts=counts, details=details, error=error)
