"""What every flow shares: the run id, the ``pipeline_runs`` record around a run, JSON-safe parameters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tasks.runs import record_run_end, record_run_start


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


@dataclass
class RunRecord:
    """The ``pipeline_runs`` row of the current flow run.

    The flow fills ``counts`` and ``details`` as it goes; :func:`run_record` writes them when the run ends, whichever
    way it ends.
    """

    warehouse_block: str | None
    run_id: str
    store: str
    stage: str
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@contextmanager
def run_record(warehouse_block: str | None, store: str, stage: str) -> Iterator[RunRecord]:
    """Record the flow run in ``pipeline_runs``.

    Its start (with the run's parameters, read from Prefect rather than copied by hand), then ``succeeded`` or
    ``failed`` (with the error) when the block ends. A failure, a cancellation or an interrupt is recorded and raised
    again.

    ``warehouse_block`` is the ``Warehouse`` block's name (None: the environment's warehouse); the
    recording tasks resolve it themselves, so no URL (which may hold a password) is passed to them.
    """
    from prefect.runtime import flow_run

    record = RunRecord(warehouse_block, current_run_id(), store, stage)
    record_run_start(warehouse_block, record.run_id, store, stage, jsonable(dict(flow_run.parameters or {})))
    try:
        yield record
    except BaseException as exc:
        # what was done so far, made JSON-safe however far the run got (recording never hides the error)
        details = json.loads(json.dumps(record.details, default=str))
        record_run_end(warehouse_block, record.run_id, "failed", record.counts, details, repr(exc))
        raise
    record_run_end(warehouse_block, record.run_id, "succeeded", record.counts, record.details)


#: the tag Prefect's scheduler puts on the runs it creates from a deployment's schedule
AUTO_SCHEDULED_TAG = "auto-scheduled"


def overlapped_schedule() -> str | None:
    """Why this run should end at once, or None.

    A run from a schedule that had to wait for its deployment's one-at-a-time slot (another run held it) is an overlap;
    the next scheduled run does the same work, so it is cancelled instead of running late. A merchant's manual run (from
    the UI or the CLI) is never cancelled this way: it waits for the slot, then runs.
    """
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if not run_id or AUTO_SCHEDULED_TAG not in (flow_run.get_tags() or []):
        return None
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(UUID(run_id))
    if any(state.name == "AwaitingConcurrencySlot" for state in states):
        return "a scheduled run that overlapped another run of its deployment: skipped (the next one is due)"
    return None
