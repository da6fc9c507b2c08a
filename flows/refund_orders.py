"""``refund_orders``: refunds the merchant asks for (out of stock, unable to ship), exactly once.

Runnable from the UI or ``wishflow ship refund``. Each refund is written down before it is sent and
goes the one write path of every write to Wish (wishflow/shipping/order_writes.py); the reason must be
one of the order's ``refund_reasons`` at that moment.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow, get_run_logger
from pydantic import Field

from flows.common import current_run_id
from tasks.refunds import refund_orders_task
from wishflow.config import DEFAULT_STORE


@flow(name="refund_orders", log_prints=False, validate_parameters=True)
def refund_orders(
    order_ids: list[str],
    reason: str,
    note: str | None = None,
    store: str = DEFAULT_STORE,
    follow_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
) -> dict[str, Any]:
    """Refund orders the merchant cannot fulfil.

    Args:
        order_ids: Orders to refund.
        reason: A refund reason the orders offer now, e.g. MERCHANT_OUT_OF_STOCK, UNABLE_TO_SHIP.
        note: Optional refund_reason_note.
        store: Store name, as recorded in the warehouse.
        follow_seconds: How long to follow processing.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
    """
    settled = refund_orders_task(
        store, warehouse_block, wish_block, list(order_ids), reason, note, follow_seconds, current_run_id()
    )
    logger = get_run_logger()
    for order_id, r in settled.results.items():
        logger.info("refund of %s: %s (%s)", order_id, r.state, r.detail)
    for order_id, why in settled.refused.items():
        logger.warning("refund of %s not asked for: %s", order_id, why)
    # the command line's view (wishflow refund): plain values per order
    results = {o: {"state": r.state, "detail": r.detail, "reason": r.reason} for o, r in settled.results.items()}
    return {"results": results, "refused": settled.refused}
