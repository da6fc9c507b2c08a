"""Address changes and merchant refunds on the one write path: their judges with every response
shape, and the kill-and-rerun, lost-response and 5xx scenarios that tracking writes pass. Every
order ends with exactly one accepted write of the kind at the sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from shipping_helpers import STORE, admin, make_client, set_faults, writes

from wishflow.shipping.order_writes import WriteMachine
from wishflow.shipping.outbox import Verdict
from wishflow.shipping.ready import ready_orders
from wishflow.shipping.refunds import REFUND, RefundError, plan_refund, request_refund, resume_refunds
from wishflow.shipping.service import ADDRESS, change_address, plan_address_change
from wishflow.shipping.write_policy import WritePolicy
from wishflow.warehouse.shipping_schema import address_changes, refund_requests

SENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTLE = timedelta(minutes=15)
BEFORE = SENT + timedelta(minutes=3)
AFTER = SENT + timedelta(hours=1)
OLD = {"street_address1": "1 Old Street", "city": "Oldtown", "country_code": "US"}
NEW = {"street_address1": "2 New Street", "city": "Newtown", "country_code": "US"}


class _Row:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _at(delta: timedelta) -> str:
    return (SENT + delta).isoformat().replace("+00:00", "Z")


def _order(state: str = "APPROVED", status: str | None = None, source: str | None = None, **kw: Any) -> dict:
    return {
        "state": state,
        "processing_status": status,
        "processing_source": source,
        "updated_at": _at(timedelta(seconds=-30)),
        "tracking_information": [],
        **kw,
    }


def _addr(detail: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return _order(full_address={"shipping_detail": detail}, **kw)


ADDRESS_SHAPES = {
    # shape: (order, follow before, follow after, read-back before, read-back after)
    "new-in-progress": (
        _addr(NEW, status="IN_PROGRESS", source="MODIFY_SHIPPING"),
        "submitted",
        "submitted",
        "submitted",
        "submitted",
    ),
    "new-succeeded": (
        _addr(NEW, status="SUCCEEDED", source="MODIFY_SHIPPING"),
        "confirmed",
        "confirmed",
        "confirmed",
        "confirmed",
    ),
    "old": (_addr(OLD), "pending", "resend", "settle", "send"),
    "queued": (_addr(OLD, status="IN_PROGRESS", source="MODIFY_SHIPPING"), "pending", "pending", "wait", "wait"),
    "empty": ({}, "pending", "pending", "wait", "wait"),
    "failed-async": (
        _addr(OLD, status="FAILED", source="MODIFY_SHIPPING", updated_at=_at(timedelta(seconds=5))),
        "failed",
        "failed",
        "failed",
        "failed",
    ),
    "failed-stale": (_addr(OLD, status="FAILED", source="MODIFY_SHIPPING"), "pending", "failed", "settle", "failed"),
    "other-address": (_addr({**OLD, "street_address1": "9 Elsewhere"}), "conflict", "conflict", "conflict", "conflict"),
    "shipped-meanwhile": (
        _addr(OLD, state="SHIPPED", tracking_information=[{"tracking_number": "X1"}]),
        "pending",
        "failed",
        "settle",
        "failed",
    ),
}


@pytest.mark.parametrize("shape", sorted(ADDRESS_SHAPES))
def test_address_judge_with_every_response_shape(shape: str) -> None:
    order, *expected = ADDRESS_SHAPES[shape]
    row = _Row(address=NEW, previous_address=OLD, sent_at=SENT, order_id="o")
    got = [
        ADDRESS.judge(row, order, settle=SETTLE, now=now, following=following).verdict.value
        for following in (True, False)
        for now in (BEFORE, AFTER)
    ]
    assert got == expected


REFUND_SHAPES = {
    "refunded-ours": (
        _order(
            "REFUNDED", "SUCCEEDED", "REFUND", refunds=[{"refund_reason": "OUT_OF_STOCK", "refund_source": "MERCHANT"}]
        ),
        "confirmed",
        "confirmed",
        "confirmed",
        "confirmed",
    ),
    "old": (_order(), "pending", "resend", "settle", "send"),
    "queued": (_order(status="IN_PROGRESS", source="REFUND"), "pending", "pending", "wait", "wait"),
    "empty": ({}, "pending", "pending", "wait", "wait"),
    "failed-async": (
        _order(status="FAILED", source="REFUND", updated_at=_at(timedelta(seconds=5))),
        "failed",
        "failed",
        "failed",
        "failed",
    ),
    "refunded-by-wish": (
        _order("REFUNDED", refunds=[{"refund_reason": "MERCHANT_FAILED_TO_FULFILL", "refund_source": "WISH"}]),
        "conflict",
        "conflict",
        "conflict",
        "conflict",
    ),
    "declined": (_order("DECLINED"), "pending", "failed", "settle", "failed"),
}


@pytest.mark.parametrize("shape", sorted(REFUND_SHAPES))
def test_refund_judge_with_every_response_shape(shape: str) -> None:
    order, *expected = REFUND_SHAPES[shape]
    row = _Row(reason="OUT_OF_STOCK", note=None, sent_at=SENT, order_id="o")
    got = [
        REFUND.judge(row, order, settle=SETTLE, now=now, following=following).verdict.value
        for following in (True, False)
        for now in (BEFORE, AFTER)
    ]
    assert got == expected


def test_never_sent_is_sent_at_once() -> None:
    row = _Row(reason="OUT_OF_STOCK", note=None, sent_at=None, order_id="o")
    assert REFUND.judge(row, _order(), settle=SETTLE, now=SENT, following=False).verdict == Verdict.SEND


# -- against the sandbox -------------------------------------------------------------------------------


class _Crash(BaseException):
    """The process dies (after or before the PUT went out)."""


class _Crashing:
    def __init__(self, client: Any, *, before: bool) -> None:
        self._client = client
        self._before = before

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _die(self, call: Any, *args: Any) -> Any:
        if self._before:
            raise _Crash("before the PUT")
        call(*args)
        raise _Crash("after the PUT")

    def modify_address(self, order_id: str, address: Any) -> Any:
        return self._die(self._client.modify_address, order_id, address)

    def refund_order(self, order_id: str, reason: str, note: str | None = None) -> Any:
        return self._die(self._client.refund_order, order_id, reason, note)


def _accepted(sandbox: Any, oid: str, endpoint: str) -> list[dict[str, Any]]:
    return [w for w in writes(sandbox, oid) if w["endpoint"] == endpoint and w["outcome"] == "accepted"]


def _do(kind: str, engine: sa.Engine, client: Any, oid: str, machine: WriteMachine) -> Any:
    if kind == "refund":
        return request_refund(engine, client, STORE, oid, "MERCHANT_OUT_OF_STOCK", machine=machine)
    return change_address(engine, client, STORE, oid, {"street_address1": "2 New Street"}, machine=machine)


@pytest.mark.parametrize("scenario", ["crash-after-send", "crash-before-send", "response-lost", "5xx"])
@pytest.mark.parametrize("kind", ["address", "refund"])
def test_kill_and_rerun_lost_responses_and_5xx_end_with_one_write(
    engine, sandbox, seed, kind: str, scenario: str
) -> None:
    sandbox.sandbox.config.ship_processing_seconds = 2
    ids = seed(count=3)
    endpoint = "address" if kind == "address" else "refund"
    policy = WritePolicy(settle=timedelta(minutes=15))
    clock = sandbox.sandbox.now
    table = address_changes if kind == "address" else refund_requests
    with make_client(sandbox, timeout=2.0) as client:

        def machine(c: Any = client) -> WriteMachine:
            return WriteMachine(engine, c, ADDRESS if kind == "address" else REFUND, policy, clock, 0.01)

        if scenario.startswith("crash"):
            dying = _Crashing(client, before=scenario == "crash-before-send")
            for oid in ids:
                with pytest.raises(_Crash):
                    _do(kind, engine, dying, oid, machine(dying))
        else:
            faults = {"response_lost": 1.0} if scenario == "response-lost" else {"http_503": 1.0}
            set_faults(sandbox, paths=f"/{endpoint}$", **faults)
            for oid in ids:
                _do(kind, engine, client, oid, machine())
            set_faults(sandbox)
        # reruns: the same request again, the sandbox clock moving on between them
        for _ in range(4):
            admin(sandbox, "POST", "/sandbox/clock", json={"advance_seconds": 8 * 60})
            for oid in ids:
                _do(kind, engine, client, oid, machine())
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(table.c.order_id, table.c.state)).all())
    assert states == {oid: "confirmed" for oid in ids}, states
    for oid in ids:
        assert len(_accepted(sandbox, oid, endpoint)) == 1, writes(sandbox, oid)
        order = sandbox.sandbox.get_order(oid)
        if kind == "refund":
            assert order["state"] == "REFUNDED"
            assert len(order["refunds"]) == 1
        else:
            assert order["full_address"]["shipping_detail"]["street_address1"] == "2 New Street"


def test_refund_reason_must_be_one_the_order_offers_and_holds_the_order(engine, sandbox, seed, client) -> None:
    ids = seed(count=2)
    offered = client.refund_reasons(ids[0])
    with pytest.raises(RefundError, match="choose one of"):
        plan_refund(engine, client, STORE, ids[0], "NOT_A_REASON")
    assert writes(sandbox, ids[0]) == []
    plan_refund(engine, client, STORE, ids[0], offered[0])
    # planned, not yet sent: shipping does not plan the order meanwhile
    assert [o.order_id for o in ready_orders(engine, STORE)] == ids[1:]
    with pytest.raises(RefundError, match="in flight"):
        plan_refund(engine, client, STORE, ids[0], offered[-1] if offered[-1] != offered[0] else "OTHER")
    done = resume_refunds(engine, client, STORE)
    assert [r.state for r in done] == ["submitted"]
    admin(sandbox, "POST", "/sandbox/clock", json={"advance_seconds": 5})
    again = resume_refunds(engine, client, STORE)
    assert [r.state for r in again] == ["confirmed"]
    assert len(_accepted(sandbox, ids[0], "refund")) == 1


def test_address_change_planned_then_resumed(engine, sandbox, seed, client) -> None:
    ids = seed(count=1)
    change_id, done = plan_address_change(engine, client, STORE, ids[0], {"city": "Newtown"})
    assert done is None
    assert change_id
    same, _ = plan_address_change(engine, client, STORE, ids[0], {"city": "Newtown"})
    assert same == change_id  # rerun with the same address resumes the same change
    result = change_address(engine, client, STORE, ids[0], {"city": "Newtown"})
    assert result.state in ("submitted", "confirmed")
    assert len(_accepted(sandbox, ids[0], "address")) == 1
