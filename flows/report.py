"""Flow ``report``: the operations report, for analysts and the merchant.

It is written as a self-contained HTML file (inline SVG charts) and a Prefect markdown artifact with the summary and
the file's path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

import flows  # noqa: F401 - Prefect loads this file by path: the package installs flows.heartbeats
from tasks.report import write_report_task
from wishflow.report.html import ReportResult


def summary_markdown(result: ReportResult) -> str:
    """The report's headline figures as a markdown table, for the run's artifact next to the file's path."""
    s = result.summary
    rate = "n/a" if s["on_time_rate"] is None else f"{s['on_time_rate'] * 100:.1f}%"
    rows = [
        ("Orders released", s["orders"]),
        ("Marked shipped", s["shipped"]),
        ("Shipped on time", rate),
        ("Median hours to ship", s["median_ship_latency_hours"]),
        ("Waiting to ship", s["open_orders"]),
        ("Waiting, past deadline", s["overdue_open_orders"]),
        ("Refunds", s["refunds"]),
        ("Carriers", s["carriers"]),
    ]
    return "\n".join(
        [
            f"# Operations report: {s['store']}",
            "",
            f"Window: orders released since {s['window_start']}.",
            "",
            "| figure | value |",
            "|---|---|",
            *[f"| {k} | {'n/a' if v is None else v} |" for k, v in rows],
            "",
            f"HTML report with charts: `{result.path}`",
        ]
    )


@flow(name="report", log_prints=False, validate_parameters=True)
def report(
    store: str | None = None,
    days: Annotated[int, Field(ge=1, le=3660)] = 90,
    output: str = ".wishflow/report.html",
    warehouse_block: str | None = None,
) -> dict[str, Any]:
    """Write the operations report and publish its summary as the artifact ``operations-report``.

    Args:
        store: Store to report on; empty: all stores.
        days: Days of history to include (1-3660).
        output: Where to write the HTML file (relative paths: under the working directory).
        warehouse_block: Warehouse block name (else environment).
    """
    logger = get_run_logger()
    result = write_report_task(warehouse_block, str(Path(output)), store, days)
    create_markdown_artifact(
        key="operations-report",
        markdown=summary_markdown(result),
        description="Operations report summary and where the HTML file is.",
    )
    logger.info("report for %s written to %s", result.summary["store"], result.path)
    return {"path": str(result.path), "summary": result.summary, "charts": result.charts}
