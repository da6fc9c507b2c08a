"""``wishflow demo``: the whole order cycle against a fresh sandbox, into the demo's own warehouse.

It starts the sandbox in this process with a frozen clock of its own, runs the order cycle once per
simulated day (pull, validate, ship, track, follow up), moves the sandbox clock exactly a day, and
ends with what happened and where to look. The same seed gives the same warehouse (the clock never
follows real time). It writes ``.wishflow/demo.db`` and never the default warehouse
``.wishflow/warehouse.db``, which may hold a merchant's data. No Prefect server is needed: flows run
against Prefect's temporary local server.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wishflow.actions.queues import QueueCounts

DEMO_QUERIES = (
    (
        "Orders waiting to ship, most urgent first",
        "SELECT order_id, country_code, expected_ship_time, hours_left FROM v_unprocessed_orders "
        "ORDER BY expected_ship_time, order_id LIMIT 10;",
    ),
    (
        # the docs' quarantine_reasons example: blocking rules of open orders only (no warnings, no closed orders)
        "Why orders are quarantined",
        "SELECT rule, COUNT(DISTINCT order_id) AS orders FROM v_quarantine_reasons GROUP BY rule "
        "ORDER BY orders DESC, rule;",
    ),
    ("Orders by state", "SELECT state, count(*) FROM orders GROUP BY state ORDER BY 2 DESC;"),
)


def _say(text: str) -> None:
    print(text, flush=True)


#: the demo's own warehouse, next to (never instead of) the default ``.wishflow/warehouse.db``
DEMO_WAREHOUSE = Path(".wishflow") / "demo.db"

#: what the demo counts at the end beside the queues; two demos with the same seed, days and orders
#: count the same. The queues (quarantined, waiting to ship, ...) come from ``queue_counts`` only.
COUNT_QUERIES = {
    "orders": "SELECT count(*) FROM orders",
    "shipments": "SELECT count(*) FROM shipments",
    "tracking_events": "SELECT count(*) FROM tracking_events",
    "delivered": "SELECT count(*) FROM shipment_tracking WHERE status = 'DELIVERED'",
    "completed": "SELECT count(*) FROM order_completions",
    "tickets": "SELECT count(*) FROM tickets",
    "penalties": "SELECT count(*) FROM penalties",
    "refunds": "SELECT count(*) FROM refunds",
    "follow_ups_open": "SELECT count(*) FROM follow_ups WHERE resolved_at IS NULL",
}


def demo_clock_start(days: int, today: datetime | None = None) -> datetime:
    """Where the demo's sandbox clock starts: midnight UTC ``days`` days before today.

    The clock is frozen and moves exactly a day per cycle, so it ends at today's midnight, never after
    real time (validation judges release times against real time), and a rerun on the same day replays
    the same sandbox history.
    """
    today = (today or datetime.now(UTC)).astimezone(UTC)
    return today.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)


def demo_counts(url: str) -> dict[str, int | None]:
    """The warehouse's counts the demo reports (None where a table is missing).

        The store's quarantined and waiting-to-ship queues are counted as
    :func:`wishflow.actions.queue_counts` counts them.
    """
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    out: dict[str, int | None] = {}
    with engine.connect() as conn:
        for label, sql in COUNT_QUERIES.items():
            try:
                out[label] = int(conn.execute(text(sql)).scalar_one())
            except Exception:  # noqa: BLE001 - a stage's table may not exist in an older schema
                conn.rollback()
                out[label] = None
    engine.dispose()
    queues = demo_queues(url)
    # the time-independent queues take part in the same-seed comparison; at_risk moves with the clock
    out["quarantined"], out["waiting_to_ship"] = queues.quarantined, queues.waiting_to_ship
    return out


def demo_queues(url: str) -> QueueCounts:
    """The demo store's queues, from the one library function the CLI, report and views share."""
    from wishflow.actions import queue_counts
    from wishflow.config import DEFAULT_STORE
    from wishflow.warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        return queue_counts(engine, DEFAULT_STORE)
    finally:
        engine.dispose()


def queue_lines(queues: QueueCounts) -> list[str]:
    """The demo's queue block: every figure of :class:`QueueCounts`, one ``label: count`` line each."""
    severity = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in queues.by_severity.items())
    return [
        "Queues (the same counts as wishflow todo, the report and the views):",
        f"  quarantined (open orders held from shipping): {queues.quarantined}",
        f"  waiting to ship: {queues.waiting_to_ship}",
        f"  at risk (not quarantined, under 24 h left or overdue): {queues.at_risk}",
        f"  awaiting validation: {queues.awaiting_validation}",
        f"  things to do: {queues.total_actions} ({severity})",
        *(f"    {kind}: {n}" for kind, n in queues.actions.items()),
    ]


def run_demo(
    orders: int = 300, seed: int = 1, days: int = 14, directory: Path | None = None, report: bool = True
) -> int:
    """The demo, as ``wishflow demo`` runs it; 0 when every day's cycle succeeded, else 1."""
    counts, ok = simulate(orders=orders, seed=seed, days=days, directory=directory, report=report)
    return 0 if ok else 1


def simulate(
    orders: int = 300,
    seed: int = 1,
    days: int = 14,
    directory: Path | None = None,
    report: bool = True,
    step_hours: float = 24.0,
) -> tuple[dict[str, int | None], bool]:
    """Run the demo into ``directory/demo.db`` (default ``.wishflow/demo.db``).

    ``days`` cycles, the sandbox clock moving ``step_hours`` after each; returns its counts and whether
    every cycle succeeded.
    """
    from wishflow_cli.run_cmd import hide_console_noise, quiet_console

    verbose = bool(os.environ.get("WISHFLOW_DEMO_VERBOSE"))
    quiet_console(verbose)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS", "8")
    from wishflow.sandbox import SandboxConfig, serve_in_thread
    from wishflow.warehouse.engine import upgrade

    warehouse = (directory / DEMO_WAREHOUSE.name if directory else DEMO_WAREHOUSE).resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    # only the demo's own file is replaced; the default warehouse (.wishflow/warehouse.db) is never touched
    for suffix in ("", "-wal", "-shm"):
        Path(f"{warehouse}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{warehouse}"
    upgrade(url)
    start = demo_clock_start(max(1, round(days * step_hours / 24)))
    config = SandboxConfig(
        seed=seed,
        orders=orders,
        start_time=start,
        clock_running=False,
        release_rate_per_hour=max(1.0, orders / 48),
        bad_order_share=0.06,
        # Wish's processing completes as soon as the clock moves: the cycle's follow never waits on it
        ship_processing_seconds=0,
        ticket_share=0.15,
    )
    _say(f"Starting the Wish API sandbox (seed {seed}, {orders} orders, clock frozen at {start:%Y-%m-%d %H:%M} UTC)")
    ok = True
    with serve_in_thread(config) as sandbox:
        os.environ.update(
            {
                "WISH_API_BASE_URL": sandbox.api_url,
                "WISHFLOW_PROFILE": "sandbox",
                "WISH_ACCESS_TOKEN": sandbox.access_token,
                "WISH_REFRESH_TOKEN": sandbox.refresh_token,
                "WISH_CLIENT_ID": sandbox.client_id,
                "WISH_CLIENT_SECRET": sandbox.client_secret,
                "WISHFLOW_WAREHOUSE_URL": url,
            }
        )
        _say(f"  sandbox API: {sandbox.api_url}")
        _say(f"  warehouse:   {warehouse}  (the demo's own; your .wishflow/warehouse.db is left alone)")
        _say("Loading Prefect (no PREFECT_API_URL: a temporary local Prefect server starts once, a few seconds)...")
        from flows.order_cycle import order_cycle

        if not verbose:
            hide_console_noise()

        for day in range(1, days + 1):
            started = time.perf_counter()
            _say(f"\nDay {day} ({sandbox.sandbox.now():%Y-%m-%d %H:%M} UTC): running the order cycle")
            try:
                result = order_cycle()
                outcome = result.get("outcome", {}) if isinstance(result, dict) else {}
            except Exception as exc:  # noqa: BLE001 - the demo reports a failed day and goes on
                ok = False
                outcome = dict(getattr(exc, "outcome", {}) or {"cycle": f"failed: {exc}"})
            for stage, what in outcome.items():
                _say(f"  {stage:<10} {what}")
            _say(f"  ({time.perf_counter() - started:.1f} s)")
            sandbox.sandbox.advance(timedelta(hours=step_hours).total_seconds())

        counts = demo_counts(url)
        _say(f"\nThe warehouse now holds ({sandbox.sandbox.now():%Y-%m-%d %H:%M} UTC on the sandbox clock):")
        for label, count in counts.items():
            if count is not None and label in COUNT_QUERIES:
                _say(f"  {label.replace('_', ' ')}: {count}")
        _say("")
        for line in queue_lines(demo_queues(url)):
            _say(line)
    _say(f"\nLook around: sqlite3 {warehouse}")
    for label, sql in DEMO_QUERIES:
        _say(f"  -- {label}\n  {sql}")
    _say(f"What to do today (the action list): wishflow todo --warehouse-url {url}")
    if report:
        try:
            from wishflow.report import write_report

            written = write_report(url, warehouse.parent / "demo-report.html", days=days + 7)
            _say(f"\nOperations report (charts, open in a browser): {written.path}")
        except Exception as exc:  # noqa: BLE001 - the report is a bonus; the demo's outcome stands
            _say(f"\n(the operations report could not be written: {exc})")
    return counts, ok
