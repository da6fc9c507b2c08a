"""Refund tasks: one task run settles a whole list of merchant refunds (never one run per order).

Retrying is safe: each refund is written to ``refund_requests`` before it is sent and goes the one
write path (claim, send, read back, judge), so a retry resumes instead of refunding twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task

from blocks.wish import build_wish_client
from tasks.common import API_TASK, warehouse_engine
from wishflow.shipping.refunds import RefundError, RefundResult, request_refund, resume_refunds


@dataclass
class RefundsSettled:
    """What one refund task run did.

    Each order's refund (earlier runs' unfinished ones included) and the orders whose refund could not be asked for,
    with why.
    """

    results: dict[str, RefundResult] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


@task(name="refund-orders", **API_TASK)
def refund_orders_task(
    store: str,
    warehouse_block: str | None,
    wish_block: str | None,
    order_ids: list[str],
    reason: str,
    note: str | None,
    follow_seconds: float,
    run_id: str,
) -> RefundsSettled:
    """Settle refunds earlier runs left unfinished, then ask for each order's refund.

    An order whose refund cannot be asked for (reason not offered, order busy) is reported, the others go on.
    """
    engine = warehouse_engine(warehouse_block)
    settled = RefundsSettled()
    with build_wish_client(wish_block) as client:
        for earlier in resume_refunds(engine, client, store):
            settled.results[earlier.order_id] = earlier
        for order_id in order_ids:
            try:
                r = request_refund(
                    engine, client, store, order_id, reason, note=note, follow_seconds=follow_seconds, run_id=run_id
                )
            except RefundError as exc:
                settled.refused[order_id] = str(exc)  # the refund's reason in words, shown to the merchant
                continue
            settled.results[order_id] = r
    return settled
