"""``pipeline_runs``: one row per flow run, written when it starts and when it ends.

So a run that died shows as ``running`` with no end rather than vanishing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, update

from wishflow.warehouse.bulk import dialect_insert
from wishflow.warehouse.schema import pipeline_runs


def start_run(engine: Engine, run_id: str, store: str, stage: str, parameters: dict[str, Any]) -> None:
    """Record that run ``run_id`` of ``stage`` started for ``store`` (status ``running``, no end yet).

    Written before the run does anything, so a run that dies leaves a trace instead of nothing.
    """
    now = datetime.now(UTC)
    with engine.begin() as conn:
        stmt = dialect_insert(conn, pipeline_runs).values(
            run_id=run_id,
            store=store,
            stage=stage,
            started_at=now,
            outcome="running",
            parameters=parameters,
            _loaded_at=now,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["run_id"],
                set_={"outcome": "running", "finished_at": None, "error": None, "_loaded_at": now},
            )
        )


def finish_run(
    engine: Engine,
    run_id: str,
    *,
    outcome: str,
    counts: dict[str, int] | None = None,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record how run ``run_id`` ended: its outcome, end time and result."""
    counts = counts or {}
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.run_id == run_id)
            .values(
                finished_at=now,
                outcome=outcome,
                records_fetched=counts.get("fetched"),
                records_new=counts.get("new"),
                records_changed=counts.get("changed"),
                records_unchanged=counts.get("unchanged"),
                records_quarantined=counts.get("quarantined"),
                details=details,
                error=error[:4000] if error else None,
                _loaded_at=now,
            )
        )
