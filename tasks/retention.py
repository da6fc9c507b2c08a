"""Task: apply the retention policy to one store (personal data of long-finished orders)."""

from __future__ import annotations

from datetime import datetime

from prefect import task

from blocks.retention import resolve_retention_policy
from tasks.common import DB_TASK, warehouse_engine
from wishflow.retention import RetentionResult, apply_retention


@task(name="apply-retention", **DB_TASK)
def apply_retention_task(store: str, warehouse_block: str | None, now: datetime, run_id: str) -> RetentionResult:
    """Blank personal fields of ``store``'s orders finished longer ago than the policy keeps them."""
    policy = resolve_retention_policy()
    return apply_retention(warehouse_engine(warehouse_block), store, now, policy, run_id)
