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
