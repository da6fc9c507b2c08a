"""Exactly once against the sandbox: faults that leave a write's outcome unknown never lead to a
second accepted tracking write, and the warehouse agrees with the sandbox.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from shipping_helpers import STORE, accepted_tracking, admin, advance, make_client, set_faults

from wishflow.shipping import SandboxLabels, Submitter, default_policy, plan_and_save, record_orders
from wishflow.shipping.outbox import State, counts_by_state
from wishflow.warehouse.shipping_schema import shipments


def _ship_all(engine: sa.Engine, client: Any, sandbox: Any, *, workers: int = 4, follow: float = 0.0) -> Any:
    plan = plan_and_save(
        engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url), max_batch_size=7
    )
    submitter = Submitter(client, engine, workers=workers, on_payloads=record_orders(engine), read_retry_delay=0.05)
    reports = [submitter.submit_batch(b) for b in plan.batch_ids]
    return plan, submitter, reports


def _assert_exactly_once(engine: sa.Engine, sandbox: Any, ids: list[str]) -> None:
    with engine.connect() as conn:
        rows = {
            r.order_id: r
            for r in conn.execute(sa.select(shipments).where(shipments.c.store == STORE, shipments.c.order_id.in_(ids)))
        }
    for oid in ids:
        accepted = accepted_tracking(sandbox, oid)
        assert len(accepted) == 1, (oid, accepted)
        row = rows[oid]
        assert row.state in (State.SUBMITTED, State.CONFIRMED), (oid, row.state, row.last_error)
        assert accepted[0]["body"]["tracking_number"] == row.tracking_number
        order = sandbox.sandbox.get_order(oid)
        assert order["tracking_information"][0]["tracking_number"] == row.tracking_number


def test_plain_run_ships_each_order_once_and_follows_to_confirmed(engine, sandbox, client, seed) -> None:
    ids = seed(count=20)
    plan, submitter, reports = _ship_all(engine, client, sandbox)
    assert plan.planned == 20
    assert sum(r.submitted for r in reports) + sum(r.confirmed for r in reports) == 20
    advance(sandbox, 5)
    report = submitter.follow(STORE, wait_seconds=60, poll_interval=0.2)
    assert report.confirmed == 20
    assert counts_by_state(engine, STORE) == {"confirmed": 20}
    _assert_exactly_once(engine, sandbox, ids)
    # the warehouse has re-recorded the shipped orders
    from wishflow.warehouse.schema import orders

    with engine.connect() as conn:
        states = dict(
            conn.execute(sa.select(orders.c.order_id, orders.c.state).where(orders.c.order_id.in_(ids))).all()
        )
    assert set(states.values()) == {"SHIPPED"}
    # a second run finds nothing to ship
    again = plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
    assert again.planned == 0


@pytest.mark.parametrize(
    "faults",
    [
        {"response_lost": 0.5, "paths": "/tracking$"},
        {"http_500": 0.3, "http_503": 0.2, "paths": "/tracking$"},
        {"response_lost": 0.3, "http_502": 0.2, "http_500": 0.2, "paths": "/orders/[0-9a-f]+(/tracking)?$"},
        {"timeout": 0.4, "timeout_seconds": 3.0, "paths": "/tracking$"},
    ],
    ids=["response-lost", "5xx", "mixed", "timeouts"],
)
def test_uncertain_writes_are_read_back_never_resent_blindly(engine, sandbox, seed, faults: dict[str, Any]) -> None:
    ids = seed(count=24)
    set_faults(sandbox, **faults)
    with make_client(sandbox, timeout=1.0) as client:
        plan, submitter, reports = _ship_all(engine, client, sandbox)
        # whatever was left pending (read-backs that themselves failed) is settled by reconcile
        for _ in range(10):
            counts = counts_by_state(engine, STORE)
            if not counts.get("submitting") and not counts.get("planned"):
                break
            from datetime import timedelta

            submitter.reconcile(STORE, lease=timedelta(0))
            for b in plan.batch_ids:
                submitter.submit_batch(b)
        set_faults(sandbox)
        submitter.reconcile(STORE, lease=__import__("datetime").timedelta(0))
    assert sum(r.sent for r in reports) >= 24
    _assert_exactly_once(engine, sandbox, ids)
    lost = [w for oid in ids for w in accepted_tracking(sandbox, oid) if w.get("response_lost")]
    if faults.get("response_lost"):
        assert lost, "the fault mix should have lost some responses"


def test_tracking_conflict_is_reported_and_never_overwritten(engine, sandbox, client, seed) -> None:
    ids = seed(count=3)
    plan = plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
    # someone else (the merchant in Wish's UI) ships one order after we planned, before we send
    victim = ids[1]
    client.ship_order(victim, tracking_number="YT1234567890123456", shipping_provider="YunExpress", origin_country="CN")
    # and our first send of it is uncertain: force a read-back by pretending a crash after sending
    with engine.begin() as conn:
        conn.execute(
            shipments.update()
            .where(shipments.c.order_id == victim)
            .values(state="submitting", sent_at=sa.func.current_timestamp(), claimed_by=None)
        )
    submitter = Submitter(client, engine, workers=2)
    for b in plan.batch_ids:
        submitter.submit_batch(b)
    report = submitter.reconcile(STORE)
    assert report.conflict == 1
    assert victim in report.conflicts
    with engine.connect() as conn:
        row = conn.execute(sa.select(shipments).where(shipments.c.order_id == victim)).one()
    assert row.state == "conflict"
    assert row.found_tracking_number == "YT1234567890123456"
    order = sandbox.sandbox.get_order(victim)
    assert order["tracking_information"][0]["tracking_number"] == "YT1234567890123456"
    assert [w["body"]["tracking_number"] for w in accepted_tracking(sandbox, victim)] == ["YT1234567890123456"]
    # the conflict holds the order: the next plan does not pick it up again
    again = plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
    assert victim not in {o.order_id for p in again.plan.parcels for o in p.orders}
    _ = admin  # keep the helper import used


def test_a_send_that_lands_after_the_client_gave_up_is_not_sent_again(engine, sandbox, seed) -> None:
    """The write reaches Wish only after the client timed out *and* read the order back (a request
    queued behind Wish's gateway). Judging "not on the order, send again" at that moment ships the
    order twice; the submitter waits until the send has settled and then finds ours on the order.
    """
    sandbox.sandbox.config.ship_processing_seconds = 0  # the second write would land on a SHIPPED order
    ids = seed(count=3)
    set_faults(
        sandbox, script=[{"kind": "late", "method": "PUT", "path": "/tracking$", "count": 1}], timeout_seconds=1.0
    )
    with make_client(sandbox, timeout=0.3) as client:
        assert client.write_settle_seconds == pytest.approx(0.6)
        plan = plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
        submitter = Submitter(client, engine, workers=1, settle_seconds=2.0, read_retry_delay=0.05)
        reports = [submitter.submit_batch(b) for b in plan.batch_ids]
    assert sum(r.sent for r in reports) == 3, [r.counts() for r in reports]
    assert sum(r.submitted + r.confirmed for r in reports) == 3, [r.counts() for r in reports]
    _assert_exactly_once(engine, sandbox, ids)


def test_reconcile_after_a_crash_waits_for_the_dead_runs_send_to_settle(engine, sandbox, seed) -> None:
    """A run died while its PUT was still on the way (sent_at set, no claimer). The next run's
    reconcile reads back before the write has landed: it must park the row, not send it again.
    """
    import threading

    import httpx

    sandbox.sandbox.config.ship_processing_seconds = 0
    ids = seed(count=1)
    with make_client(sandbox, timeout=5.0) as client:
        plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
    with engine.begin() as conn:
        conn.execute(
            shipments.update()
            .where(shipments.c.order_id == ids[0])
            .values(state="submitting", sent_at=sa.func.current_timestamp(), claimed_by=None)
        )
        row = conn.execute(sa.select(shipments).where(shipments.c.order_id == ids[0])).one()
    set_faults(
        sandbox, script=[{"kind": "late", "method": "PUT", "path": "/tracking$", "count": 1}], timeout_seconds=1.0
    )
    # the dead run's PUT, still in flight at Wish (its client is gone: nobody reads the answer)
    body = {
        "tracking_number": row.tracking_number,
        "shipping_provider": row.carrier,
        "origin_country": row.origin_country,
    }
    headers = {"Authorization": f"Bearer {sandbox.access_token}"}
    late = threading.Thread(
        target=lambda: httpx.put(
            f"{sandbox.base_url}/api/v3/orders/{ids[0]}/tracking", json=body, headers=headers, timeout=10
        ),
        daemon=True,
    )
    late.start()
    with make_client(sandbox, timeout=5.0) as client:
        report = Submitter(client, engine, workers=1, settle_seconds=2.5, read_retry_delay=0.05).reconcile(STORE)
    late.join(timeout=10)
    assert report.sent == 0, report.counts()
    assert report.submitted + report.confirmed == 1, report.counts()
    _assert_exactly_once(engine, sandbox, ids)
