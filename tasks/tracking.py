"""Tasks of the tracking poll.

Plan, refresh changed orders (a chunk of pages per task run), read quiet parcels by id (a batch per task run), derive
statuses and exceptions, and send one digest.

Task runs grow with pages and batches, never with orders (DESIGN.md §4.7). Reads are idempotent and
every write is an idempotent merge, so a retried task simply runs again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task

from blocks.wish import build_wish_client
from tasks.common import API_TASK, DB_TASK, NOTIFY_TASK, engine_for
from wishflow.api.pagination import Position
from wishflow.pull import PullWindow
from wishflow.tracking import (
    TrackingPolicy,
    due_for_poll,
    open_exceptions,
    plan_tracking_window,
    refresh_by_id,
    refresh_changed,
    update_tracking,
)
from wishflow.tracking.digest import exceptions_markdown, tracking_digest
from wishflow.tracking.refresh import RefreshResult, TrackingPlan
from wishflow.tracking.store import TrackingUpdate


@task(name="plan-tracking-poll", **API_TASK)
def plan_tracking(
    store: str, warehouse_url: str, wish_block: str | None, lookback: timedelta, safety_lag: timedelta
) -> TrackingPlan:
    """Wish's clock (deadlines are Wish's) and the window of changed orders to read."""
    with build_wish_client(wish_block) as client:
        now = client.server_now()
    window = plan_tracking_window(engine_for(warehouse_url), store, now=now, lookback=lookback, safety_lag=safety_lag)
    return TrackingPlan(now=now, window=window)


@task(name="wish-clock", **API_TASK)
def wish_now(wish_block: str | None) -> datetime:
    """Wish's idea of now (its ``Date`` header): the sandbox clock in tests."""
    with build_wish_client(wish_block) as client:
        return client.server_now()


@task(name="refresh-changed-orders", timeout_seconds=1800, **API_TASK)
def refresh_changed_pages(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    window: PullWindow,
    position: Position | None,
    pages_per_task: int,
    page_size: int,
    run_id: str,
) -> RefreshResult:
    """Read and record up to ``pages_per_task`` pages of changed orders (tracking's own cursor)."""
    with build_wish_client(wish_block) as client:
        return refresh_changed(
            client,
            engine_for(warehouse_url),
            store,
            window,
            position,
            max_pages=pages_per_task,
            page_size=page_size,
            run_id=run_id,
        )


@task(name="select-parcels-to-poll", **DB_TASK)
def select_due_parcels(
    store: str,
    warehouse_url: str,
    now: datetime,
    policy: TrackingPolicy,
    exclude: list[str],
    limit: int | None,
) -> list[str]:
    """Shipped-not-delivered parcels due for a read (quiet ones not polled within their interval)."""
    return due_for_poll(engine_for(warehouse_url), store, now=now, policy=policy, exclude=exclude, limit=limit)


@task(name="poll-parcels-by-id", timeout_seconds=1800, **API_TASK)
def refresh_parcels(
    store: str, warehouse_url: str, wish_block: str | None, order_ids: list[str], max_workers: int, run_id: str
) -> RefreshResult:
    """Read one batch of quiet parcels' orders by id (bounded thread pool) and record them."""
    with build_wish_client(wish_block) as client:
        return refresh_by_id(
            client, engine_for(warehouse_url), store, order_ids, max_workers=max_workers, run_id=run_id
        )


@task(name="derive-tracking", **DB_TASK)
def derive_tracking(
    store: str, warehouse_url: str, now: datetime, policy: TrackingPolicy, polled_ids: list[str]
) -> TrackingUpdate:
    """Statuses, parcel history and exceptions for every order that needs it."""
    return update_tracking(engine_for(warehouse_url), store, now=now, policy=policy, polled_order_ids=polled_ids)


@task(name="tracking-report", **DB_TASK)
def tracking_report(store: str, warehouse_url: str) -> str:
    """Open exceptions as markdown."""
    return exceptions_markdown(store, open_exceptions(engine_for(warehouse_url), store))


@task(name="notify-tracking", **NOTIFY_TASK)
def notify_tracking(block_name: str | None, store: str, update: TrackingUpdate) -> bool:
    """One digest of the run's new and escalated exceptions (nothing sent when there are none)."""
    if not block_name:
        return False
    digest = tracking_digest(store, update.to_json())
    if digest is None:
        return False
    from tasks.notify import send_notification

    return bool(send_notification.fn(block_name, digest.title, digest.body))
