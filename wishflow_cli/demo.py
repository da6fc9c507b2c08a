"""``wishflow demo``: the whole order cycle against a fresh sandbox, into the embedded warehouse.

It starts the sandbox in this process with a clock of its own, runs the order cycle once per
simulated day (pull, validate, ship, track, follow up), moves the sandbox clock a day, and ends with
what happened and where to look. No Prefect server is needed: flows run in Prefect's ephemeral mode.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_QUERIES = (
    (
        "Orders waiting to ship, most urgent first",
        "SELECT order_id, country_code, expected_ship_time, hours_left FROM v_unprocessed_orders LIMIT 10;",
    ),
    (
        "Why orders are quarantined",
        "SELECT expectation, count(*) FROM order_validation_failures WHERE resolved_at IS NULL GROUP BY 1;",
    ),
    ("Orders by state", "SELECT state, count(*) FROM orders GROUP BY state ORDER BY 2 DESC;"),
)


def _say(text: str) -> None:
    print(text, flush=True)


def run_demo(orders: int = 300, seed: int = 1, days: int = 3) -> int:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS", "8")
    from sqlalchemy import text

    from wishflow.sandbox import SandboxConfig, serve_in_thread
    from wishflow.warehouse.engine import DEFAULT_SQLITE_PATH, default_url, make_engine, upgrade

    warehouse = Path(DEFAULT_SQLITE_PATH).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{warehouse}{suffix}").unlink(missing_ok=True)
    url = default_url()
    upgrade(url)
    # The sandbox clock starts `days` ago and catches up with real time on the last day, so that
    # deadlines and "hours left" in the warehouse views read right when the demo ends.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days - 1)
    config = SandboxConfig(
        seed=seed,
        orders=orders,
        start_time=start,
        release_rate_per_hour=max(1.0, orders / 48),
        bad_order_share=0.06,
        ship_processing_seconds=60,
    )
    _say(f"Starting the Wish API sandbox (seed {seed}, {orders} orders, clock at {start:%Y-%m-%d %H:%M} UTC)")
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
        _say(f"  warehouse:   {warehouse}")
        _say("Loading Prefect (ephemeral mode: a temporary local API starts once, ~10 s)...")
        from flows.order_cycle import order_cycle

        for day in range(1, days + 1):
            started = time.perf_counter()
            _say(f"\nDay {day} ({sandbox.sandbox.now():%Y-%m-%d %H:%M} UTC): running the order cycle")
            state = order_cycle(return_state=True)
            result = state.result(raise_on_failure=False)
            outcome = result.get("outcome", {}) if isinstance(result, dict) else {}
            if not outcome and hasattr(state, "data"):
                outcome = getattr(state.data, "get", lambda *_: {})("outcome", {}) or {}
            for stage, what in outcome.items():
                _say(f"  {stage:<10} {what}")
            if not state.is_completed():
                _say(f"  cycle finished with failures: {state.message}")
            _say(f"  ({time.perf_counter() - started:.1f} s)")
            sandbox.sandbox.advance(min(timedelta(days=1), datetime.now(UTC) - sandbox.sandbox.now()).total_seconds())

        engine = make_engine(url)
        with engine.connect() as conn:
            by_state = conn.execute(text("SELECT state, count(*) FROM orders GROUP BY state ORDER BY 2 DESC")).all()
            total = sum(n for _, n in by_state)
            _say(f"\nThe warehouse now holds {total} orders: " + ", ".join(f"{n} {s}" for s, n in by_state))
            for label, sql in (
                ("quarantined (invalid, held from shipping)", "SELECT count(*) FROM v_quarantined_orders"),
                ("waiting to ship", "SELECT count(*) FROM v_unprocessed_orders"),
                ("shipments submitted", "SELECT count(*) FROM shipments"),
                ("tracking events", "SELECT count(*) FROM tracking_events"),
                ("follow-ups open", "SELECT count(*) FROM follow_ups WHERE resolved_at IS NULL"),
            ):
                try:
                    _say(f"  {label}: {conn.execute(text(sql)).scalar_one()}")
                except Exception:  # noqa: BLE001 - a stage's table may not exist in an older schema
                    conn.rollback()
        engine.dispose()
    _say(f"\nLook around: sqlite3 {warehouse}")
    for label, sql in DEMO_QUERIES:
        _say(f"  -- {label}\n  {sql}")
    try:
        from wishflow.report import write_report

        report = write_report(url, warehouse.parent / "report.html", days=days + 7)
        _say(f"\nOperations report (charts, open in a browser): {report.path}")
    except Exception as exc:  # noqa: BLE001 - the report is a bonus; the demo's outcome stands
        _say(f"\n(the operations report could not be written: {exc})")
    return 0
