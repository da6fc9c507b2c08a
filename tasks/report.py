"""The task of the ``report`` flow: write the operations report from the warehouse."""

from __future__ import annotations

from prefect import task

from tasks.common import DB_TASK
from wishflow.report.html import ReportResult


@task(name="write-report", **DB_TASK)
def write_report_task(warehouse_block: str | None, path: str, store: str | None, days: int) -> ReportResult:
    """Write the HTML report to ``path``; its path, summary figures and charts."""
    from blocks.warehouse import resolve_warehouse_url
    from wishflow.report import write_report

    return write_report(resolve_warehouse_url(warehouse_block), path, store=store, days=days)
