"""The task of the ``report`` flow: write the operations report from the warehouse."""

from __future__ import annotations

from typing import Any

from prefect import task

from tasks.common import DB_TASK


@task(name="write-report", **DB_TASK)
def write_report_task(warehouse_url: str, path: str, store: str | None, days: int) -> dict[str, Any]:
    """Write the HTML report to ``path``; its path, summary figures and charts."""
    from wishflow.report import write_report

    result = write_report(warehouse_url, path, store=store, days=days)
    return {"path": str(result.path), "summary": result.summary, "charts": result.charts}
