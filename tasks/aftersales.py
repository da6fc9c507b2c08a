"""Tasks of the follow-up stage.

Refunds, tickets (and templated replies), penalties, completion, follow-ups and the daily summary. One task run per
step, whatever the number of orders.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from prefect import task

from blocks.wish import build_wish_client
from tasks.common import API_TASK, DB_TASK, engine_for
from wishflow.aftersales import (
    CompletionResult,
    FollowUpResult,
    PenaltySync,
    PlannedReply,
    RefundSync,
    ReplyPolicy,
    TicketSync,
    awaiting_merchant,
    daily_summary,
    plan_replies,
    render_markdown,
    send_replies,
    sync_penalties,
    sync_refunds,
    sync_tickets,
    update_completions,
    update_follow_ups,
)
from wishflow.aftersales.summary import DailyReport


@task(name="sync-refunds", **DB_TASK)
def sync_refunds_task(store: str, warehouse_url: str) -> RefundSync:
    """Refunds from the recorded order payloads."""
    return sync_refunds(engine_for(warehouse_url), store)


@task(name="sync-tickets", **API_TASK)
def sync_tickets_task(store: str, warehouse_url: str, wish_block: str | None) -> TicketSync:
    """Tickets updated since the last sync, with their replies."""
    with build_wish_client(wish_block) as client:
        return sync_tickets(client, engine_for(warehouse_url), store)


@task(name="sync-penalties", **API_TASK)
def sync_penalties_task(store: str, warehouse_url: str, wish_block: str | None) -> PenaltySync:
    """Penalties created or reversed since the last sync."""
    with build_wish_client(wish_block) as client:
        return sync_penalties(client, engine_for(warehouse_url), store)


@task(name="templated-replies", **API_TASK)
def templated_replies_task(
    store: str, warehouse_url: str, wish_block: str | None, enabled: bool, dry_run: bool, max_replies: int
) -> list[PlannedReply]:
    """Plan (and unless ``dry_run``, send) templated replies to common tickets; off unless ``enabled``."""
    policy = ReplyPolicy(enabled=enabled, dry_run=dry_run, max_replies=max_replies)
    engine = engine_for(warehouse_url)
    plans = plan_replies(engine, store, policy)
    if not plans:
        return []
    if dry_run:
        return list(send_replies(None, engine, store, plans, dry_run=True))  # type: ignore[arg-type]
    with build_wish_client(wish_block) as client:
        return list(send_replies(client, engine, store, plans, dry_run=False))


@task(name="update-completions", **DB_TASK)
def completions_task(store: str, warehouse_url: str, now: datetime, quiet_period: timedelta) -> CompletionResult:
    """Complete delivered orders past the quiet period with no refund and no open ticket."""
    return update_completions(engine_for(warehouse_url), store, now=now, quiet_period=quiet_period)


@task(name="update-follow-ups", **DB_TASK)
def follow_ups_task(
    store: str, warehouse_url: str, now: datetime, ticket_response: timedelta, penalty_review: timedelta
) -> FollowUpResult:
    """Open and resolve follow-ups; also list the tickets awaiting the merchant with their wait."""
    engine = engine_for(warehouse_url)
    result = update_follow_ups(engine, store, now=now, ticket_response=ticket_response, penalty_review=penalty_review)
    result.awaiting_merchant = awaiting_merchant(engine, store, now=now)
    return result


@task(name="daily-summary", **DB_TASK)
def daily_summary_task(store: str, warehouse_url: str, day: date) -> DailyReport:
    """The day's figures against the day before, and the markdown report with open follow-ups."""
    engine = engine_for(warehouse_url)
    summary = daily_summary(engine, store, day)
    # the action list (issue 18) replaces the follow-ups-only section: the same rows as `wishflow todo`
    from wishflow.actions import action_items, queue_counts
    from wishflow.notify.digest import action_list_markdown

    actions = action_list_markdown(store, queue_counts(engine, store), action_items(engine, store, limit=50))
    return DailyReport(summary=summary, markdown=render_markdown(summary) + "\n" + actions)
