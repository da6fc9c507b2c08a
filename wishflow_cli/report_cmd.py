"""``wishflow report``: write the self-contained HTML operations report from the warehouse.

Runs the library directly (no Prefect needed); ``--flow`` runs it as the Prefect flow ``report``
instead, which also publishes the summary as a markdown artifact.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def run_report(args: argparse.Namespace) -> int:
    """``wishflow report``: write the HTML operations report (a mistyped warehouse or store is an error)."""
    from wishflow.config import warehouse_url_from_env
    from wishflow_cli.run_cmd import warehouse_problem

    # a mistyped warehouse path or store is an error, never an empty report (nor a new empty file)
    problem = warehouse_problem(
        args.warehouse_url or warehouse_url_from_env(), args.store or "", store_must_exist=bool(args.store)
    )
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.flow:
        import os

        if args.warehouse_url:
            os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
        from flows.report import report

        result: dict[str, Any] = report(store=args.store, days=args.days, output=args.output)
        path, summary = result["path"], result["summary"]
    else:
        from wishflow.report import write_report

        done = write_report(
            args.warehouse_url or warehouse_url_from_env(), args.output, store=args.store, days=args.days
        )
        path, summary = str(done.path), done.summary
    rate = "n/a" if summary["on_time_rate"] is None else f"{summary['on_time_rate'] * 100:.1f}%"
    print(
        f"report for {summary['store']}: {summary['orders']} orders, {summary['shipped']} shipped "
        f"({rate} on time), {summary['refunds']} refunds"
    )
    print(f"written to {path}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow report``."""
    parser = subparsers.add_parser("report", help="write the HTML operations report (charts) from the warehouse")
    parser.add_argument("--output", "-o", default=".wishflow/report.html", help="HTML file to write")
    parser.add_argument("--store", help="one store (default: all stores)")
    parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    parser.add_argument("--warehouse-url", help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL or the SQLite file)")
    parser.add_argument("--flow", action="store_true", help="run as the Prefect flow (publishes an artifact)")
    parser.set_defaults(func=run_report)
