"""Validation tasks: read a batch of unjudged orders, validate it, record the verdicts, publish.

One task run per batch of up to 50k orders (DataFrames in, DataFrames out), never per order.
DataFrames are not hashed for caching (``NO_CACHE``): validation must always run on fresh data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact

from tasks.common import DB_TASK, LOCAL_TASK, Handoff, warehouse_engine
from wishflow.notify.digest import DEFAULT_MAX_LINES
from wishflow.validation.bounds import ValidationBounds
from wishflow.validation.outcome import ValidationOutcome
from wishflow.validation.queries import OrderViews, order_views
from wishflow.validation.store import read_pending_batch, record_outcome
from wishflow.validation.validate import validate_frame

#: Rows shown in table artifacts (the views hold the full lists).
ARTIFACT_ROWS = 500


@task(name="read-pending-orders", **DB_TASK)
def read_pending_orders(
    warehouse_block: str | None, store: str, after_order_id: str | None, batch_size: int
) -> pd.DataFrame:
    """The next batch of orders whose current version has not been validated."""
    return read_pending_batch(warehouse_engine(warehouse_block), store, after_order_id=after_order_id, limit=batch_size)


@task(name="validate-orders-frame", timeout_seconds=1800, **LOCAL_TASK)
def validate_orders_frame(
    frame: Handoff[pd.DataFrame], now: datetime, bounds: ValidationBounds | None = None
) -> Handoff[ValidationOutcome]:
    """Run the blocking and warning suites over one batch, with the merchant's upper bounds.

    The batch comes and the outcome goes in a :class:`~tasks.common.Handoff` each: Prefect may keep
    this run's parameters and result after it ends, and they are the largest things the flow holds.
    The batch is let go of once validated; the caller takes the outcome out.
    """
    outcome = validate_frame(frame.get(), now, bounds)
    frame.release()
    return Handoff(outcome)


@task(name="record-validation", **DB_TASK)
def record_validation(
    warehouse_block: str | None,
    store: str,
    run_id: str,
    outcome: Handoff[ValidationOutcome],
    batch_number: int,
    now: datetime,
) -> dict[str, int]:
    """Write one batch's verdicts, findings and run row in one transaction (safe to retry).

    The outcome is let go of once written (see :class:`~tasks.common.Handoff`); a failed attempt
    keeps it for the retry.
    """
    engine = warehouse_engine(warehouse_block)
    counts = record_outcome(engine, store, run_id, outcome.get(), batch_number=batch_number, now=now)
    outcome.release()
    return counts


@task(name="read-order-views", **DB_TASK)
def read_order_views(warehouse_block: str | None, store: str, risk_hours: float) -> OrderViews:
    """The quarantined, unprocessed and due-soon orders of ``store`` (the rows shown) and the queues' counts."""
    return order_views(
        warehouse_engine(warehouse_block), store, risk_hours, limit=ARTIFACT_ROWS, due_rows=DEFAULT_MAX_LINES
    )


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, float):
        return round(value, 1)
    return value


def _table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _cell(v) for k, v in row.items()} for row in rows]


def artifact_key(base: str, store: str) -> str:
    """Artifact keys are lowercase letters, digits and dashes; other stores get a suffix."""
    if store == "default":
        return base
    slug = "".join(c if c.isalnum() else "-" for c in store.lower()).strip("-")
    return f"{base}-{slug}"


@task(name="publish-validation-artifacts", **LOCAL_TASK)
def publish_validation_artifacts(
    store: str, totals: dict[str, Any], failures_by_expectation: dict[str, int], views: OrderViews
) -> None:
    """Counts per rule and the quarantined orders of this run; refresh the keyed deadline table."""
    counts = [{"expectation": rule, "failing_orders": n} for rule, n in sorted(failures_by_expectation.items())]
    create_table_artifact(
        key=artifact_key("validation-failures-by-expectation", store),
        table=counts or [{"expectation": "(none)", "failing_orders": 0}],
        description=(
            f"Store {store}: {totals['validated']} orders validated, {totals['valid']} valid, "
            f"{totals['invalid']} quarantined. Failing orders per rule."
        ),
    )
    quarantined = _table(views.quarantined)
    create_table_artifact(
        key=artifact_key("quarantined-orders", store),
        table=quarantined or [{"order_id": "(none)"}],
        description=f"Store {store}: orders held back from shipping until fixed upstream (first {ARTIFACT_ROWS}).",
    )
    unprocessed = _table(views.unprocessed)
    create_table_artifact(
        key=artifact_key("unprocessed-orders-by-deadline", store),
        table=unprocessed or [{"order_id": "(none)"}],
        description=f"Store {store}: valid APPROVED orders not yet shipped, soonest ship-by deadline first.",
    )
