"""The outbox's state machine on SQLite and PostgreSQL: atomic claims (two claimers never share a
row), guarded transitions, takeover of abandoned claims, and the read-back verdicts.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from wishflow.shipping import ManualLabels, ShipOrder, assign_numbers, default_policy, plan_shipments
from wishflow.shipping import outbox as ob
from wishflow.shipping.outbox import OutboxRow, State, Transition, Verdict, judge_follow, judge_readback
from wishflow.warehouse.shipping_schema import shipment_events, shipments

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _plan(engine: sa.Engine, n: int, store: str = "s") -> list[str]:
    orders = [
        ShipOrder(
            f"o{i:04d}",
            store,
            T0,
            T0 + timedelta(days=5),
            "SKU",
            1,
            Decimal(5),
            "USD",
            "US",
            False,
            False,
            None,
            f"Name {i}",
            "1 Main St",
        )
        for i in range(n)
    ]
    plan = plan_shipments(orders, default_policy(), max_batch_size=n)
    assign_numbers(plan.parcels, ManualLabels({o.order_id: f"YT{i:016d}" for i, o in enumerate(orders)}))
    return ob.save_plan(engine, store, plan).batch_ids


def test_planning_twice_never_holds_an_order_twice(engine) -> None:
    _plan(engine, 5)
    again = _plan(engine, 5)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(shipments)).scalar() == 5
        assert conn.execute(sa.select(sa.func.count()).select_from(shipment_events)).scalar() == 5
    assert again  # the batch row exists, with no orders of its own
    assert ob.counts_by_state(engine, "s") == {"planned": 5}


def test_concurrent_claims_never_share_a_row(engine) -> None:
    (batch,) = _plan(engine, 60)
    claimed: list[list[str]] = []
    lock = threading.Lock()

    def worker() -> None:
        token = ob.new_claim_token()
        while rows := ob.claim_batch(engine, batch, token, limit=3):
            with lock:
                claimed.append([r.shipment_id for r in rows])

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for chunk in claimed for i in chunk]
    assert len(ids) == 60
    assert len(set(ids)) == 60
    assert ob.counts_by_state(engine, "s") == {"submitting": 60}


def test_transitions_are_guarded_by_state_and_claim(engine) -> None:
    (batch,) = _plan(engine, 2)
    token = ob.new_claim_token()
    rows = ob.claim_batch(engine, batch, token)
    a, b = rows
    assert ob.mark_sending(engine, a.shipment_id, token)
    assert not ob.mark_sending(engine, a.shipment_id, "someone-else")
    applied = ob.apply(
        engine,
        [
            Transition(a.shipment_id, State.SUBMITTED, State.SUBMITTING, token=token),
            Transition(b.shipment_id, State.SUBMITTED, State.SUBMITTING, token="stale-token"),  # not ours: ignored
        ],
    )
    assert applied == 1
    ob.apply(engine, [Transition(a.shipment_id, State.CONFIRMED, State.SUBMITTED, detail="SUCCEEDED")])
    row = ob.get_row(engine, a.shipment_id)
    assert row.state == "confirmed"
    with engine.connect() as conn:
        active = conn.execute(sa.select(shipments.c.active_order_id).where(shipments.c.shipment_id == a.shipment_id))
        assert active.scalar() is None  # the order is released for a later re-release, if any
        events = (
            conn.execute(
                sa.select(shipment_events.c.to_state)
                .where(shipment_events.c.shipment_id == a.shipment_id)
                .order_by(shipment_events.c.event_id)
            )
            .scalars()
            .all()
        )
    assert events == ["planned", "submitting", "submitted", "confirmed"]


def test_abandoned_claims_are_taken_over_only_when_dead_or_expired(engine) -> None:
    (batch,) = _plan(engine, 3)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_token = f"{ob._HOST}:{int(dead.stdout)}:dead"
    live_token = ob.new_claim_token()
    ob.LIVE_TOKENS.add(live_token)
    try:
        rows = ob.claim_batch(engine, batch, live_token)
        with engine.begin() as conn:
            conn.execute(
                shipments.update().where(shipments.c.shipment_id == rows[0].shipment_id).values(claimed_by=dead_token)
            )
            conn.execute(
                shipments.update()
                .where(shipments.c.shipment_id == rows[1].shipment_id)
                .values(claimed_by="otherhost:1:x", claimed_at=datetime.now(UTC) - timedelta(hours=1))
            )
        taken = ob.claim_stale(engine, "s", ob.new_claim_token())
        assert {r.shipment_id for r in taken} == {rows[0].shipment_id, rows[1].shipment_id}  # not the live one
        assert all(r.attempts == 2 for r in taken)
    finally:
        ob.LIVE_TOKENS.discard(live_token)


def _row(**kw) -> OutboxRow:
    base = dict(
        shipment_id="x",
        store="s",
        order_id="o",
        kind="ship",
        batch_id=None,
        parcel_id="p",
        carrier="YunExpress",
        origin_country="CN",
        tracking_number="YT1",
        previous_tracking_number=None,
        ship_note=None,
        state="submitting",
        attempts=1,
        claimed_by=None,
        sent_at=T0,
    )
    base.update(kw)
    return OutboxRow(**base)


def _order(numbers: list[str], state: str = "APPROVED", status: str | None = None, source: str | None = None):
    return {
        "state": state,
        "tracking_information": [{"tracking_number": n} for n in numbers],
        "processing_status": status,
        "processing_source": source,
    }


def test_readback_verdicts() -> None:
    r = _row()
    assert (
        judge_readback(r, _order(["YT1"], status="IN_PROGRESS", source="UPDATE_TRACKING")).verdict == Verdict.SUBMITTED
    )
    assert judge_readback(r, _order(["YT1"], "SHIPPED", "SUCCEEDED", "UPDATE_TRACKING")).verdict == Verdict.CONFIRMED
    conflict = judge_readback(r, _order(["ZZ9"], "SHIPPED", "SUCCEEDED"))
    assert conflict.verdict == Verdict.CONFLICT
    assert conflict.found_tracking_number == "ZZ9"
    assert judge_readback(r, _order(["ZZ9", "YT1"], "SHIPPED")).verdict == Verdict.CONFLICT  # ours was replaced
    assert judge_readback(r, _order([])).verdict == Verdict.SEND
    assert judge_readback(r, _order([], status="IN_PROGRESS", source="MODIFY_SHIPPING")).verdict == Verdict.WAIT
    assert judge_readback(r, _order([], state="REFUNDED")).verdict == Verdict.FAILED
    assert judge_readback(r, _order([], status="FAILED", source="UPDATE_TRACKING")).verdict == Verdict.FAILED
    modify = _row(kind="modify", previous_tracking_number="OLD1")
    assert judge_readback(modify, _order(["OLD1"], "SHIPPED", "SUCCEEDED")).verdict == Verdict.SEND
    assert judge_readback(modify, _order(["YT1", "OLD1"], "SHIPPED", "IN_PROGRESS")).verdict == Verdict.SUBMITTED
    assert judge_readback(modify, _order(["ZZ9", "OLD1"], "SHIPPED")).verdict == Verdict.CONFLICT


def test_follow_verdicts() -> None:
    r = _row(state="submitted")
    assert judge_follow(r, _order(["YT1"], "SHIPPED", "SUCCEEDED", "UPDATE_TRACKING")).verdict == Verdict.CONFIRMED
    assert judge_follow(r, _order(["YT1"], status="IN_PROGRESS")).verdict == Verdict.SUBMITTED
    failed = judge_follow(r, _order([], status="FAILED", source="UPDATE_TRACKING"))
    assert failed.verdict == Verdict.FAILED
    assert "FAILED" in failed.detail
    assert judge_follow(r, _order(["ZZ9"], "SHIPPED", "SUCCEEDED")).verdict == Verdict.CONFLICT
