"""Flow ``follow_up``: stage 5 of the merchant's process, after-sales.

1. Refresh the orders Wish changed (refunds land on order payloads), unless told not to.
2. Sync refunds, tickets (with replies) and penalties.
3. Optionally answer common tickets with a templated reply (off by default; dry-run by default).
4. Complete delivered orders with no refund and no open ticket after the quiet period.
5. Open and resolve follow-ups: what the merchant must act on.
6. Publish the daily summary (the day against the day before, plus the open follow-ups) as a
   markdown artifact and send it as one notification.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Cancelled
from pydantic import Field

from blocks.warehouse import resolve_warehouse_url
from flows.common import overlapped_schedule, run_record
from tasks.aftersales import (
    completions_task,
    daily_summary_task,
    follow_ups_task,
    sync_penalties_task,
    sync_refunds_task,
    sync_tickets_task,
    templated_replies_task,
)
from tasks.retention import apply_retention_task
from tasks.tracking import plan_tracking, refresh_changed_pages
from wishflow.api.pagination import Position
from wishflow.config import DEFAULT_STORE


@flow(name="follow_up", log_prints=False, validate_parameters=True)
def follow_up(
    store: str = DEFAULT_STORE,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
    notify_block: str | None = None,
    completion_days: Annotated[float, Field(ge=0)] = 7.0,
    refresh_orders: bool = True,
    auto_reply: bool = False,
    reply_dry_run: bool = True,
    max_replies: Annotated[int, Field(ge=0, le=1000)] = 50,
    ticket_response_hours: Annotated[float, Field(gt=0)] = 48.0,
    penalty_review_days: Annotated[float, Field(gt=0)] = 14.0,
    summary_day: date | None = None,
    pages_per_task: Annotated[int, Field(ge=1, le=1000)] = 20,
) -> dict[str, Any]:
    """Completion, refunds, tickets, penalties and the daily summary.

    Args:
        store: Store name, as recorded in the warehouse.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
        notify_block: Notification block for the daily summary.
        completion_days: Days after delivery with no refund or open ticket before completion.
        refresh_orders: Read orders Wish changed first (refunds arrive on order payloads).
        auto_reply: Answer common tickets (e.g. shipping taking long) with a templated reply.
        reply_dry_run: With auto_reply: list the replies in the artifact without sending them.
        max_replies: At most this many templated replies per run.
        ticket_response_hours: A ticket awaiting you is due this long after its wait began.
        penalty_review_days: Days a new penalty stays a follow-up (its dispute window).
        summary_day: UTC day of the summary. Empty: the day before Wish's today.
        pages_per_task: Pages of changed orders per task run.
    """
    overlap = overlapped_schedule()
    if overlap:
        # A State returned by a flow becomes its final state (Prefect); the annotation names the usual result.
        return cast("dict[str, Any]", Cancelled(message=overlap))
    logger = get_run_logger()
    warehouse_url = resolve_warehouse_url(warehouse_block)
    out: dict[str, Any] = {"store": store}
    with run_record(warehouse_block, store, "follow_up") as record:
        run_id = out["run_id"] = record.run_id
        record.details = out  # on failure: what was done so far
        plan = plan_tracking(store, warehouse_url, wish_block, timedelta(minutes=10), timedelta(seconds=30))
        now = plan.now
        if refresh_orders:
            position: Position | None = None
            fetched = 0
            while True:
                chunk = refresh_changed_pages(
                    store, warehouse_url, wish_block, plan.window, position, pages_per_task, 500, run_id
                )
                fetched += chunk.fetched
                position = chunk.next_position
                if position is None:
                    break
            out["orders_fetched"] = fetched
        refunds = sync_refunds_task(store, warehouse_url)
        out["refunds"] = refunds.to_json()
        tickets = sync_tickets_task(store, warehouse_url, wish_block)
        out["tickets"] = tickets.to_json()
        penalties = sync_penalties_task(store, warehouse_url, wish_block)
        out["penalties"] = penalties.to_json()
        replies = templated_replies_task(store, warehouse_url, wish_block, auto_reply, reply_dry_run, max_replies)
        out["replies"] = [r.to_json() for r in replies]
        completions = completions_task(store, warehouse_url, now, timedelta(days=completion_days))
        out["completions"] = completions.to_json()
        follow_ups = follow_ups_task(
            store, warehouse_url, now, timedelta(hours=ticket_response_hours), timedelta(days=penalty_review_days)
        )
        out["follow_ups"] = follow_ups.to_json()
        out["retention"] = apply_retention_task(store, warehouse_block, now, run_id)
        day = summary_day or (now.date() - timedelta(days=1))
        daily = daily_summary_task(store, warehouse_url, day)
        markdown = daily.markdown
        if replies:
            lines = ["", "## Templated replies" + (" (dry run: not sent)" if reply_dry_run else ""), ""]
            lines += [f"- ticket `{r.ticket_id}` (order `{r.order_id}`, {r.reason}): {r.outcome}" for r in replies]
            markdown += "\n".join(lines) + "\n"
        create_markdown_artifact(
            key="daily-summary", markdown=markdown, description=f"Daily after-sales summary for store {store}."
        )
        out["summary"] = daily.summary.to_json()
        out["markdown"] = markdown
        details = {
            "refunds": {k: v for k, v in out["refunds"].items() if k != "new_refunds"},
            "tickets": out["tickets"],
            "penalties": {k: v for k, v in out["penalties"].items() if k != "new_penalties"},
            "replies": [{"ticket_id": r.ticket_id, "outcome": r.outcome} for r in replies],
            "completions": completions.completed,
            "follow_ups_opened": len(follow_ups.opened),
            "follow_ups_resolved": len(follow_ups.resolved),
            "summary_day": day.isoformat(),
        }
        record.counts, record.details = {"fetched": out.get("orders_fetched", 0)}, details
    if notify_block:
        from tasks.notify import send_notification

        out["notified"] = send_notification(
            notify_block, f"Wishflow [{store}]: daily summary {day.isoformat()}", markdown
        )
    logger.info(
        "store %s: %d refunds new, %d tickets synced, %d penalties new, %d orders completed, follow-ups %d opened / "
        "%d resolved / %d open",
        store,
        refunds.inserted,
        tickets.fetched,
        penalties.inserted,
        completions.completed,
        len(follow_ups.opened),
        len(follow_ups.resolved),
        follow_ups.open_count,
    )
    return out
