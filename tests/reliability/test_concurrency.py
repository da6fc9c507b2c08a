"""Concurrency: two pulls at once leave no duplicate rows and one consistent cursor; two ship runs at
once (each planning, claiming, sending, reconciling and following) never ship an order twice. Both
on SQLite and PostgreSQL.

The runs are the tasks' own functions (``.fn``) in two threads with their own API clients, which is
what two flow runs in two workers do minus Prefect's bookkeeping. On PostgreSQL the outbox claims
rows with ``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite a claim is a ``BEGIN IMMEDIATE``
transaction, so the two runs' claims are serialised by SQLite's single write lock (a waiting run
blocks up to the 30 s busy timeout, then claims what is left): the same answer, one at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from harness import STORE, advance, point_flows_at, record_figure, sandbox_writes, start_sandbox


def _twice(fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(0)`` and ``fn(1)`` at the same moment in two threads; re-raise the first failure."""
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if errors:
        raise errors[0]
    return results


#: Retries the tasks' ``retry_condition_fn`` granted, by test (what Prefect would have retried).
RETRIES: dict[str, int] = {}


def _as_task(fn: Callable[..., Any], *args: Any, label: str = "retries") -> Any:
    """Call a task's function with its retry policy (``retry_transient``), as Prefect would."""
    from tasks.common import retry_transient

    class _State:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def result(self, raise_on_failure: bool = False) -> BaseException:  # noqa: ARG002 (prefect State.result's signature)
            return self.exc

    for attempt in range(5):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - judged by the tasks' own retry condition
            if attempt == 4 or not retry_transient(None, None, _State(exc)):
                raise
            RETRIES[label] = RETRIES.get(label, 0) + 1
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _pull(warehouse_url: str, run_id: str) -> dict[str, Any]:
    from tasks.pull import plan_pull, pull_pages

    window = _as_task(
        plan_pull.fn, STORE, warehouse_url, None, None, None, timedelta(minutes=10), timedelta(seconds=30)
    )
    position = None
    fetched = 0
    while True:
        chunk = _as_task(pull_pages.fn, STORE, warehouse_url, None, window, position, 3, 50, run_id, label="pull")
        fetched += chunk.load.fetched
        position = chunk.next_position
        if position is None:
            return {"fetched": fetched}


def test_two_pulls_at_once_leave_no_duplicates_and_one_cursor(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str
) -> None:
    RETRIES.clear()
    running = start_sandbox(21, 1500, bad_order_share=0.02)
    try:
        point_flows_at(monkeypatch, running, warehouse_url)
        advance(running, 120)
        first = _twice(lambda i: _pull(warehouse_url, f"concurrent-{i}"))
        # orders change while a second pair of pulls runs
        ids = list(running.sandbox._orders)[:40]
        httpx.post(f"{running.base_url}/sandbox/orders", json={"count": 200}, timeout=60).raise_for_status()
        advance(running, 120)
        _twice(lambda i: _pull(warehouse_url, f"concurrent-b{i}"))
        wish_ids = set(running.sandbox._orders)
        engine = sa.create_engine(warehouse_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT order_id FROM orders WHERE store = :s"), {"s": STORE}).scalars().all()
            rejected = set(
                conn.execute(
                    sa.text("SELECT record_key FROM rejected_records WHERE store = :s"), {"s": STORE}
                ).scalars()
            )
            cursors = conn.execute(
                sa.text("SELECT stream, cursor_value FROM sync_state WHERE store = :s"), {"s": STORE}
            ).all()
            dup_events = conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT order_id, event_type, event_time, to_state, count(*) AS n "
                    "FROM order_events WHERE store = :s GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d"
                ),
                {"s": STORE},
            ).scalar_one()
            max_updated = conn.execute(
                sa.text("SELECT max(updated_at) FROM orders WHERE store = :s"), {"s": STORE}
            ).scalar_one()
        engine.dispose()
        assert len(rows) == len(set(rows))
        assert wish_ids <= set(rows) | rejected, "orders lost"
        assert first[0]["fetched"] > 0
        assert first[1]["fetched"] > 0
        streams = [s for s, _ in cursors]
        assert len(streams) == len(set(streams)), cursors
        assert ids
        assert max_updated is not None
        assert dup_events == 0, "two pulls recorded the same state change twice"
        print("retries granted by retry_transient:", RETRIES)
        backend = sa.engine.make_url(warehouse_url).get_backend_name()
        record_figure(
            "concurrent_pulls",
            backend=backend,
            runs=4,
            orders=len(rows),
            duplicates=len(rows) - len(set(rows)),
            duplicate_events=dup_events,
            lost=len(wish_ids - set(rows) - rejected),
            retries=RETRIES.get("pull", 0),
        )
    finally:
        running.stop()


def test_two_ship_runs_at_once_never_ship_an_order_twice(monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> None:
    from tasks.shipping import follow_shipments, plan_shipments, reconcile_shipments, submit_batch
    from wishflow.shipping.service import ShipRequest

    RETRIES.clear()
    running = start_sandbox(22, 0)
    try:
        point_flows_at(monkeypatch, running, warehouse_url)
        httpx.post(f"{running.base_url}/sandbox/orders", json={"count": 80}, timeout=60).raise_for_status()
        advance(running, 120)
        _pull(warehouse_url, "seed-pull")
        from wishflow.validation import validate_pending

        validate_pending(sa.create_engine(warehouse_url), STORE, "seed-validate", now=datetime.now(UTC))

        def ship(i: int) -> dict[str, Any]:
            run_id = f"ship-{i}"
            totals = _as_task(reconcile_shipments.fn, STORE, warehouse_url, None, 600.0, 2, label="ship")
            plan = _as_task(
                plan_shipments.fn,
                STORE,
                warehouse_url,
                None,
                None,
                ShipRequest(max_batch_size=10),
                run_id,
                label="ship",
            )
            sent = 0
            for batch_id in plan.batch_ids:
                sent += _as_task(submit_batch.fn, warehouse_url, None, batch_id, 2, None, label="ship").sent
            _as_task(follow_shipments.fn, STORE, warehouse_url, None, 0.0, 2, label="ship")
            return {"planned": plan.planned, "sent": sent, "reconciled": totals.counts()}

        results = _twice(ship)
        writes = sandbox_writes(running)
        accepted = {
            oid: [w for w in ws if w["endpoint"] == "tracking" and w["outcome"] == "accepted"]
            for oid, ws in writes.items()
        }
        twice = {oid: len(ws) for oid, ws in accepted.items() if len(ws) > 1}
        assert not twice, twice
        shipped = {oid for oid, ws in accepted.items() if ws}
        assert len(shipped) >= 20, (results, len(shipped))
        engine = sa.create_engine(warehouse_url)
        with engine.connect() as conn:
            per_order = dict(
                conn.execute(
                    sa.text(
                        "SELECT order_id, count(*) FROM shipments WHERE store = :s AND state <> 'cancelled' GROUP BY 1"
                    ),
                    {"s": STORE},
                ).all()
            )
        engine.dispose()
        assert all(n == 1 for n in per_order.values()), {k: v for k, v in per_order.items() if v > 1}
        assert shipped <= set(per_order)
        assert sum(r["sent"] for r in results) == len(shipped), results
        backend = sa.engine.make_url(warehouse_url).get_backend_name()
        record_figure(
            "concurrent_ships",
            backend=backend,
            runs=2,
            shipped=len(shipped),
            shipped_twice=len(twice),
            sent_by_run=[r["sent"] for r in results],
            retries=RETRIES.get("ship", 0),
        )
    finally:
        running.stop()
