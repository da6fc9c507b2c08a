"""Refund tasks: one task run settles a whole list of merchant refunds (never one run per order).

Retrying is safe: each refund is written to ``refund_requests`` before it is sent and goes the one
write path (claim, send, read back, judge), so a retry resumes instead of refunding twice.
"""

from __future__ import annotations

from typing import Any

from prefect import task

from blocks.wish import build_wish_client
from tasks.common import API_TASK, engine_for
from wishflow.shipping.refunds import RefundError, request_refund, resume_refunds


@task(name="refund-orders", **API_TASK)
def refund_orders_task(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    order_ids: list[str],
    reason: str,
    note: str | None,
    follow_seconds: float,
    run_id: str,
) -> dict[str, Any]:
    """Settle refunds earlier runs left unfinished, then ask for each order's refund. An order whose
    refund cannot be asked for (reason not offered, order busy) is reported, the others go on."""
    engine = engine_for(warehouse_url)
    results: dict[str, dict[str, str]] = {}
    refused: dict[str, str] = {}
    with build_wish_client(wish_block) as client:
        for earlier in resume_refunds(engine, client, store):
            results[earlier.order_id] = {"state": earlier.state, "detail": earlier.detail, "reason": earlier.reason}
        for order_id in order_ids:
            try:
                r = request_refund(
                    engine, client, store, order_id, reason, note=note, follow_seconds=follow_seconds, run_id=run_id
                )
            except RefundError as exc:
                refused[order_id] = str(exc)
                continue
            results[order_id] = {"state": r.state, "detail": r.detail, "reason": r.reason}
    return {"results": results, "refused": refused}
