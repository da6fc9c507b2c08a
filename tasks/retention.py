"""Task: apply the retention policy to one store (personal data of long-finished orders)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task

from blocks.retention import resolve_retention_policy
from tasks.common import DB_TASK, engine_for
from wishflow.retention import apply_retention


@task(name="apply-retention", **DB_TASK)
def apply_retention_task(store: str, warehouse_url: str, now: datetime, run_id: str) -> dict[str, Any]:
    """Blank personal fields of ``store``'s orders finished longer ago than the policy keeps them."""
    policy = resolve_retention_policy()
    return apply_retention(engine_for(warehouse_url), store, now, policy, run_id).as_dict()
