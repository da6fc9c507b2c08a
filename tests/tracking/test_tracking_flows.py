"""The ``poll_tracking`` and ``follow_up`` flows on real Prefect runs: 10,000 shipped orders make task
runs that grow with batches, not orders; a rerun changes nothing; the daily summary is published.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from track_helpers import (
    CLOCK_START,
    STORE,
    admin,
    advance,
    advance_until_cancelled,
    create_orders,
    fates,
    make_client,
    rows,
    ship,
    snapshot,
    tracking_number,
)

from flows.follow_up import follow_up
from flows.poll_tracking import poll_tracking
from wishflow.orders.flatten import format_wish_time
from wishflow.warehouse.aftersales_schema import follow_ups
from wishflow.warehouse.schema import orders
from wishflow.warehouse.tracking_schema import shipment_tracking, tracking_events, tracking_exceptions


@pytest.fixture
def flow_env(monkeypatch: pytest.MonkeyPatch, clock: Any, warehouse_url: str, prefect_harness: None) -> str:
    monkeypatch.setenv("WISH_API_BASE_URL", clock.api_url)
    monkeypatch.setenv("WISHFLOW_PROFILE", "sandbox")  # a sandbox on a random port, on purpose
    monkeypatch.setenv("WISH_ACCESS_TOKEN", clock.access_token)
    monkeypatch.setenv("WISH_REFRESH_TOKEN", clock.refresh_token)
    monkeypatch.setenv("WISH_CLIENT_ID", clock.client_id)
    monkeypatch.setenv("WISH_CLIENT_SECRET", clock.client_secret)
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    return warehouse_url


def task_runs(flow_run_id: str, settle: float = 10.0) -> dict[str, int]:
    """Task runs of a flow run by task name (waiting for their records to settle)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + settle
    last: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
            counts: dict[str, int] = {}
            for run in runs:
                name = run.name.rsplit("-", 1)[0]
                counts[name] = counts.get(name, 0) + 1
            if counts == last or time.monotonic() > deadline:
                return counts
            last = counts
            time.sleep(1.0)


def shipped_orders(count: int, released_from: datetime) -> list[dict[str, Any]]:
    """Orders already shipped, released a few seconds apart (Wish's timestamps rarely tie in bulk)."""
    return [
        {
            "state": "SHIPPED",
            "released_at": format_wish_time(released_from + timedelta(seconds=7 * i)),
            "fulfillment_order_types": ["FULFILLED_BY_STORE"],
        }
        for i in range(count)
    ]


@pytest.mark.slow
def test_polling_10000_shipped_orders_grows_task_runs_with_batches(
    flow_env: str, clock: Any, engine: sa.Engine
) -> None:
    with fates(clock, never_scanned_share=0.02, delayed_share=0.1, cancelled_share=0.01):
        ids = admin(
            clock, "POST", "/sandbox/orders", json={"orders": shipped_orders(10_000, CLOCK_START - timedelta(days=4))}
        )["ids"]
        advance(clock, minutes=5)
        started = time.perf_counter()
        first = poll_tracking(store=STORE, pages_per_task=5, ids_per_task=1000, max_workers=16)
        first_seconds = time.perf_counter() - started
        assert first["changed"] == 10_000
        assert first["polled_by_id"] == 0
        assert sum(first["statuses"].values()) == 10_000

        advance(clock, hours=13)  # every parcel is due for a read by id (12 h interval)
        started = time.perf_counter()
        second = poll_tracking(store=STORE, pages_per_task=5, ids_per_task=1000, max_workers=16)
        second_seconds = time.perf_counter() - started
        in_flight = sum(v for k, v in second["statuses"].items() if k not in ("DELIVERED", "CANCELLED"))
        assert second["polled_by_id"] + second["changed"] >= in_flight > 5000

        before = snapshot(engine, [shipment_tracking, tracking_events, tracking_exceptions])
        rerun = poll_tracking(store=STORE, pages_per_task=5, ids_per_task=1000, max_workers=16)
    assert snapshot(engine, [shipment_tracking, tracking_events, tracking_exceptions]) == before
    assert rerun["changed"] == 0
    assert rerun["polled_by_id"] == 0
    assert rerun["shipments_written"] == 0

    first_runs, second_runs = task_runs(first["run_id"]), task_runs(second["run_id"])
    print(f"\n10k shipped: first poll {first_seconds:.1f} s, tasks {first_runs}")
    print(f"10k shipped: second poll {second_seconds:.1f} s ({second['polled_by_id']} by id), tasks {second_runs}")
    assert first_runs["refresh-changed-orders"] == -(-first["pages"] // 5)  # 5 pages of 500 per task run
    assert first["pages"] <= 21
    assert second_runs["poll-parcels-by-id"] == -(-second["polled_by_id"] // 1000)
    assert sum(first_runs.values()) <= 12
    assert sum(second_runs.values()) <= 25
    assert len(ids) == 10_000


def test_follow_up_flow_publishes_the_daily_summary(flow_env: str, clock: Any, engine: sa.Engine) -> None:
    with fates(clock, cancelled_share=1.0), make_client(clock) as client:
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(7))
        advance(clock, minutes=5)
        poll_tracking(store=STORE)
        advance_until_cancelled(clock, client, order_id)
        poll_tracking(store=STORE)
        client.test_token()
        day = client.server_now().date()
        result = follow_up(store=STORE, summary_day=day)
    (reship,) = rows(engine, follow_ups, kind="RESHIP")
    assert reship["order_id"] == order_id
    assert reship["resolved_at"] is None
    assert rows(engine, orders, order_id=order_id)[0]["state"] == "APPROVED"
    assert f"# Daily summary for {STORE}: {day.isoformat()}" in result["markdown"]
    # the action list (issue 18) carries the RESHIP follow-up: its line tells the merchant to ship the
    # order again (the follow-up's own text, not the bare tracking exception's)
    reship_lines = [
        line
        for line in result["markdown"].splitlines()
        if line.startswith("| ") and f"| {order_id} |" in line and "| tracking_exception |" in line
    ]
    assert len(reship_lines) == 1
    assert f"Ship again with a new tracking number. Order {order_id}" in reship_lines[0]
    assert result["summary"]["today"]["late"] == 1  # the cancelled parcel waits to be shipped again

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as prefect:
        artifact = prefect.read_latest_artifacts()
    assert any(a.key == "daily-summary" for a in artifact)
