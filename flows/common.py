"""Small helpers every flow uses: the run id, and JSON-safe parameters for ``pipeline_runs``."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any


def current_run_id() -> str:
    """The Prefect flow run id, or a fresh id when called outside a flow run (``.fn()`` tests)."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return str(run_id) if run_id else f"local-{uuid.uuid4()}"


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values (block names only: flows never receive secrets as parameters)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, (datetime, date)):
            out[key] = value.isoformat()
        elif isinstance(value, timedelta):
            out[key] = value.total_seconds()
        elif value is None or isinstance(value, (str, int, float, bool, list, dict)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


#: the tag Prefect's scheduler puts on the runs it creates from a deployment's schedule
AUTO_SCHEDULED_TAG = "auto-scheduled"


def overlapped_schedule() -> str | None:
    """Why this run should end at once, or None: a run from a schedule that had to wait for its
    deployment's one-at-a-time slot (another run held it) is an overlap; the next scheduled run
    does the same work, so it is cancelled instead of running late. A merchant's manual run (from
    the UI or the CLI) is never cancelled this way: it waits for the slot, then runs."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if not run_id or AUTO_SCHEDULED_TAG not in (flow_run.get_tags() or []):
        return None
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run_id)
    if any(state.name == "AwaitingConcurrencySlot" for state in states):
        return "a scheduled run that overlapped another run of its deployment: skipped (the next one is due)"
    return None
