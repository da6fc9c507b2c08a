"""Database faults: the warehouse connection is killed (``pg_terminate_backend`` from another
connection) while the pull is loading a page. The page's transaction rolls back (what the warehouse
holds right after the kill is whole pages, and the cursor covers exactly what is there), the task's
``retry_condition_fn`` sees a lost connection and retries, and the pull completes with every order.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from harness import STORE, advance, point_flows_at, record_figure, start_sandbox

pytestmark = pytest.mark.postgres

PAGE = 500
ORDERS = 6000


class BackendKiller(threading.Thread):
    """Terminate, once, a backend of ``database`` caught writing orders inside a load transaction (from
    the ``after_batches``-th load transaction seen on), then photograph what the warehouse holds.
    """

    def __init__(self, admin_url: str, warehouse_url: str, after_batches: int = 3) -> None:
        super().__init__(daemon=True)
        self.after_batches = after_batches
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.warehouse_url = warehouse_url
        self.database = sa.engine.make_url(warehouse_url).database
        self.stop = threading.Event()
        self.killed: dict[str, Any] | None = None
        self.snapshot: dict[str, Any] = {}

    def run(self) -> None:
        find = sa.text(
            "SELECT pid, query, xact_start FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid() "
            "AND xact_start IS NOT NULL AND state = 'active' "
            "AND (query ILIKE 'INSERT INTO orders%%' OR query ILIKE 'COPY%%_stage_orders%%' "
            "OR query ILIKE 'INSERT INTO order_events%%' OR query ILIKE 'COPY orders %%' "
            "OR query ILIKE 'COPY order_events %%' OR query ILIKE 'COPY order_validation_queue %%')"
        )
        seen: set[tuple[int, Any]] = set()
        with self.admin.connect() as conn:
            while not self.stop.is_set() and self.killed is None:
                row = conn.execute(find, {"db": self.database}).first()
                if row is not None:
                    seen.add((row.pid, row.xact_start))
                if row is not None and len(seen) >= self.after_batches:
                    done = conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": row.pid}).scalar()
                    if done:
                        self.killed = {"pid": row.pid, "query": row.query[:80]}
                        time.sleep(0.2)
                        self.snapshot = self._photograph()
                        break
                time.sleep(0.005)
        self.admin.dispose()

    def _photograph(self) -> dict[str, Any]:
        engine = sa.create_engine(self.warehouse_url)
        with engine.connect() as conn:
            ids = set(conn.execute(sa.text("SELECT order_id FROM orders WHERE store = :s"), {"s": STORE}).scalars())
            cursor = conn.execute(
                sa.text("SELECT cursor_value FROM sync_state WHERE store = :s AND stream = 'orders'"), {"s": STORE}
            ).scalar()
        engine.dispose()
        return {"ids": ids, "cursor": cursor}


def test_connection_killed_mid_batch_rolls_back_and_the_task_retries(
    monkeypatch: pytest.MonkeyPatch, fresh_pg: str, pg_admin_url: str, prefect_harness
) -> None:
    from flows.pull_orders import pull_orders

    running = start_sandbox(31, ORDERS, bad_order_share=0)
    try:
        advance(running, 120)
        point_flows_at(monkeypatch, running, fresh_pg)
        killer = BackendKiller(pg_admin_url, fresh_pg)
        killer.start()
        result = pull_orders(page_size=PAGE, pages_per_task=50)
        killer.stop.set()
        killer.join(timeout=30)
        assert killer.killed, "the load finished before a backend could be caught mid-transaction"

        # right after the kill: exactly the pages committed before it, and the cursor covers exactly them
        # (pages run in updated_at order and each commits its rows with its cursor move, or nothing)
        held = killer.snapshot["ids"]
        cursor = killer.snapshot["cursor"]
        wish = {oid: rec.updated_ms for oid, rec in running.sandbox._orders.items()}
        assert held, "killed before any page committed"
        assert cursor is not None, "killed before any page committed"
        cursor_ms = int(cursor.replace(tzinfo=cursor.tzinfo or UTC).timestamp() * 1000)
        beyond = {oid for oid in held if wish[oid] > cursor_ms}
        missing = {oid for oid, ms in wish.items() if ms < cursor_ms and oid not in held}
        assert not beyond, f"{len(beyond)} rows beyond the cursor: a batch was half-written"
        assert not missing, f"{len(missing)} orders under the cursor are missing"
        # the task retried and the pull completed with every order
        engine = sa.create_engine(fresh_pg)
        with engine.connect() as conn:
            final = set(conn.execute(sa.text("SELECT order_id FROM orders WHERE store = :s"), {"s": STORE}).scalars())
            outcome = conn.execute(
                sa.text("SELECT outcome FROM pipeline_runs WHERE run_id = :r"), {"r": result["run_id"]}
            ).scalar()
        engine.dispose()
        assert final == set(wish)
        assert outcome == "succeeded"
        assert result["fetched"] >= ORDERS  # the retried chunk re-read the pages it had recorded
        record_figure(
            "db_fault",
            orders=ORDERS,
            rows_at_kill=len(held),
            lost=len(set(wish) - final),
            fetched=result["fetched"],
            outcome=outcome,
        )
        print(
            f"killed backend {killer.killed} holding {len(held)} rows; fetched {result['fetched']} "
            f"at {datetime.now(UTC):%H:%M:%S}"
        )
    finally:
        running.stop()
