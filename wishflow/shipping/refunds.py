"""Refunds the merchant asks for (out of stock, unable to ship, ...), exactly once.

``PUT /orders/{id}/refund`` is asynchronous like every write to Wish and has no idempotency key; a
refund sent twice is at best an error and at worst a second refund. So a refund goes the one write
path (:mod:`wishflow.shipping.order_writes`): written to ``refund_requests`` before it is sent, claimed,
sent once, judged by read-back. The reason must be one Wish offers for the order at that stage
(``GET /orders/{id}/refund_reasons``); while the request is in flight, shipping does not plan the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from wishflow.api.contract import WishApi
from wishflow.shipping import outbox
from wishflow.shipping.order_writes import OrderWriteKind, WriteMachine
from wishflow.shipping.outbox import State
from wishflow.warehouse.shipping_schema import refund_requests


class RefundError(RuntimeError):
    """A refund that cannot be asked for as given (nothing was sent)."""


@dataclass(frozen=True)
class RefundResult:
    """How one refund ended: the row's state and why."""

    order_id: str
    state: str
    detail: str
    reason: str
    request_id: str | None = None


def _refunds(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in order.get("refunds") or () if isinstance(r, dict)]


class RefundKind(OrderWriteKind):
    """``PUT /orders/{id}/refund`` as a kind of the one write path.

    Ours landed when the order is REFUNDED by the merchant with our reason; REFUNDED any other way
    (Wish's auto-refund, another reason) is a conflict a person looks at; a refund is possible while
    the order is APPROVED or SHIPPED.
    """

    name = "refund"
    source = "REFUND"
    ledger = outbox.REFUND_REQUESTS

    def send(self, client: WishApi, row: Any) -> Any:
        """Ask Wish to refund the order with the row's reason and note."""
        return client.refund_order(row.order_id, row.reason, row.note)

    def landed(self, row: Any, order: dict[str, Any]) -> bool:
        """Refunded, with our reason, by the merchant (or with no source given)."""
        return order.get("state") == "REFUNDED" and any(
            r.get("refund_reason") == row.reason and r.get("refund_source") in (None, "MERCHANT")
            for r in _refunds(order)
        )

    def conflict(self, row: Any, order: dict[str, Any]) -> str | None:  # noqa: ARG002 (WriteKind protocol signature)
        """A refund other than ours already on the order: we do not refund again."""
        if order.get("state") != "REFUNDED":
            return None
        how = ", ".join(f"{r.get('refund_reason')} by {r.get('refund_source')}" for r in _refunds(order)) or "unknown"
        return f"the order was refunded otherwise ({how}); not refunded again"

    def still_possible(self, row: Any, order: dict[str, Any]) -> bool:  # noqa: ARG002 (WriteKind protocol signature)
        """Wish refunds approved and shipped orders only."""
        return order.get("state") in ("APPROVED", "SHIPPED")


REFUND = RefundKind()


def plan_refund(
    engine: Engine,
    client: WishApi,
    store: str,
    order_id: str,
    reason: str,
    *,
    note: str | None = None,
    run_id: str | None = None,
) -> str:
    """Write the refund down (``planned``) before anything is sent, or find the one in flight with the same reason.

    The reason must be among the order's ``refund_reasons`` now.
    """
    current = outbox.holder(engine, outbox.REFUND_REQUESTS, store, order_id)
    held = outbox.holder(engine, outbox.SHIPMENTS, store, order_id)
    with engine.connect() as conn:
        done = conn.execute(
            select(refund_requests.c.request_id).where(
                refund_requests.c.store == store,
                refund_requests.c.order_id == order_id,
                refund_requests.c.reason == reason,
                refund_requests.c.state == State.CONFIRMED.value,
            )
        ).first()
    if current is None and done is not None:
        return str(done.request_id)  # a rerun of a refund that went through: nothing to send
    if current is not None:
        if current.reason != reason:
            raise RefundError(f"order {order_id} has a refund in flight with reason {current.reason} ({current.state})")
        return str(current.request_id)
    if held is not None:
        raise RefundError(f"order {order_id} has a tracking write in the outbox ({held.state}); settle it first")
    reasons = list(client.refund_reasons(order_id))
    if not reasons:
        raise RefundError(f"order {order_id} cannot be refunded now (Wish offers no refund reason)")
    if reason not in reasons:
        raise RefundError(f"{reason} is not a refund reason for order {order_id} now; choose one of {reasons}")
    values = {"store": store, "order_id": order_id, "reason": reason, "note": note, "run_id": run_id}
    request_id = outbox.insert_planned(engine, outbox.REFUND_REQUESTS, values)
    if request_id is None:
        raise RefundError(f"order {order_id} got a refund request from another run meanwhile")
    return request_id


def request_refund(
    engine: Engine,
    client: WishApi,
    store: str,
    order_id: str,
    reason: str,
    *,
    note: str | None = None,
    follow_seconds: float = 0.0,
    poll_interval: float = 1.0,
    run_id: str | None = None,
    machine: WriteMachine | None = None,
) -> RefundResult:
    """Refund one order with ``reason``, exactly once.

    Plan it, then the one write path. Rerunning with the same reason resumes the earlier request (it is never sent again
    unless a read-back after the settle horizon proves it did not land). A rate limit or configuration error is raised.
    """
    request_id = plan_refund(engine, client, store, order_id, reason, note=note, run_id=run_id)
    machine = machine or WriteMachine(engine, client, REFUND)
    result = machine.settle(request_id, follow_seconds=follow_seconds, poll_interval=poll_interval)
    return RefundResult(order_id, result.state, result.detail, reason, request_id)


def resume_refunds(
    engine: Engine, client: WishApi, store: str, *, machine: WriteMachine | None = None
) -> list[RefundResult]:
    """Settle every unfinished refund of ``store`` (what a killed run left): read back, never resend blindly."""
    machine = machine or WriteMachine(engine, client, REFUND)
    out = []
    for request_id in machine.open_rows(store):
        result = machine.settle(request_id, raise_not_processed=False)
        row = machine.row(request_id)
        out.append(RefundResult(row.order_id, result.state, result.detail, row.reason, request_id))
    return out


__all__ = ["REFUND", "RefundError", "RefundKind", "RefundResult", "plan_refund", "request_refund", "resume_refunds"]
