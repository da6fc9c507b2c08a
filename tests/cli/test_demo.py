"""``wishflow demo``: reproducible (the same seed gives the same warehouse counts), complete (the
simulated days show completions, tickets, penalties and deliveries), and it writes its own
``demo.db``, never the default ``.wishflow/warehouse.db`` that may hold a merchant's data.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from wishflow_cli.demo import simulate

#: what the demo sets for its own process (profile, Prefect's console) and must not leak into later tests
_DEMO_SETS = (
    "WISHFLOW_PROFILE",
    "PREFECT_LOGGING_LEVEL",
    "PREFECT_LOGGING_LOG_PRINTS",
    "PREFECT_SERVER_LOGGING_LEVEL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
)
_ENV = ("WISH_API_BASE_URL", "WISH_ACCESS_TOKEN", "WISH_REFRESH_TOKEN", "WISH_CLIENT_ID", "WISH_CLIENT_SECRET")


def test_same_seed_same_counts_and_the_default_warehouse_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (*_ENV, "WISHFLOW_WAREHOUSE_URL"):
        monkeypatch.setenv(name, "")  # restored after the test (the demo points the process at its sandbox)
    for name in _DEMO_SETS:
        # unset during the test and put back as they were afterwards (setenv records the original),
        # so the demo's sandbox profile and quiet logging never reach the tests that run after it
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    for logger_name in ("httpx", "prefect"):
        monkeypatch.setattr(logging.getLogger(logger_name), "level", logging.getLogger(logger_name).level)
    monkeypatch.chdir(tmp_path)
    merchant = tmp_path / ".wishflow" / "warehouse.db"
    merchant.parent.mkdir()
    with sqlite3.connect(merchant) as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")
        conn.execute("INSERT INTO mine VALUES (42)")
    before = merchant.read_bytes()

    first, ok1 = simulate(orders=20, seed=5, days=8, step_hours=48, report=False)
    printed = capsys.readouterr().out
    second, ok2 = simulate(orders=20, seed=5, days=8, step_hours=48, directory=tmp_path / "again", report=False)

    assert ok1
    assert ok2
    assert first == second
    for what in ("completed", "tickets", "penalties", "delivered", "shipments"):
        assert (first[what] or 0) > 0, f"the demo shows no {what}: {first}"
    assert (tmp_path / ".wishflow" / "demo.db").exists()
    assert (tmp_path / "again" / "demo.db").exists()
    assert merchant.read_bytes() == before
    _printed_queues_equal_queue_counts(printed, tmp_path / ".wishflow" / "demo.db")


def _printed_queues_equal_queue_counts(printed: str, warehouse: Path) -> None:
    """The demo's queue lines are the library's ``queue_counts`` on its warehouse, figure for figure
    (so the demo, ``wishflow todo``, the report and the views agree).
    """
    from wishflow.actions import queue_counts
    from wishflow.warehouse.engine import make_engine

    engine = make_engine(f"sqlite:///{warehouse}")
    counts = queue_counts(engine, "default")
    with engine.connect() as conn:
        views = {
            view: int(conn.exec_driver_sql(f"SELECT count(*) FROM {view} WHERE store = 'default'").scalar_one())
            for view in ("v_quarantined_orders", "v_unprocessed_orders", "v_orders_at_risk")
        }
    engine.dispose()
    # one meaning per queue: the views, the action list's rows and queue_counts agree (an order held by
    # validation is counted as quarantined, never also as at risk)
    assert counts.quarantined == views["v_quarantined_orders"] == counts.actions["quarantined_order"]
    assert counts.waiting_to_ship == views["v_unprocessed_orders"]
    assert counts.at_risk == views["v_orders_at_risk"] == counts.actions["order_at_risk"]
    lines = printed[printed.index("Queues (") :].splitlines()

    def figure(prefix: str) -> int:
        line = next(ln.strip() for ln in lines if ln.strip().startswith(prefix + ":"))
        return int(line.split(":", 1)[1].split()[0])

    assert figure("quarantined (open orders held from shipping)") == counts.quarantined
    assert figure("waiting to ship") == counts.waiting_to_ship
    assert figure("at risk (not quarantined, under 24 h left or overdue)") == counts.at_risk
    assert figure("awaiting validation") == counts.awaiting_validation
    assert figure("things to do") == counts.total_actions > 0
    for kind, n in counts.actions.items():
        assert figure(kind) == n, kind
    things = next(ln for ln in lines if "things to do:" in ln)
    for severity, n in counts.by_severity.items():
        assert f"{severity.replace('_', ' ')} {n}" in things
    # the suggested query reads the quarantine view (open orders, blocking rules), not raw findings
    assert "FROM v_quarantine_reasons" in printed
    assert "order_validation_failures" not in printed
