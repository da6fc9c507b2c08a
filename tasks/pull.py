"""Tasks of the order pull: plan the window, then fetch-and-record a chunk of pages per task run.

A task run covers up to ``pages_per_task`` pages (500 orders each), so task runs grow with pages,
never with orders. Requests are retried by the client (see :mod:`wishflow.api.client`); a task
retry is for what outlasts that, and resumes after the last page the failed attempt committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from prefect import task

from blocks.wish import build_wish_client
from tasks.common import API_TASK, DB_TASK, engine_for
from wishflow.api.pagination import Position
from wishflow.pull import ChunkResult, PullWindow, plan_window, pull_chunk
from wishflow.warehouse.orders_writer import run_changes


@task(name="plan-pull-window", **API_TASK)
def plan_pull(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    since: datetime | None,
    until: datetime | None,
    lookback: timedelta,
    safety_lag: timedelta,
) -> dict[str, Any]:
    """Decide the window (checking the token and reading Wish's clock on the way)."""
    with build_wish_client(wish_block) as client:
        now = client.server_now()
    window = plan_window(
        engine_for(warehouse_url),
        store,
        now=now,
        since=since,
        until=until,
        lookback=lookback,
        safety_lag=safety_lag,
    )
    sweep = window.future_sweep()
    return {**window.to_json(), "sweep": sweep.to_json() if sweep else None}


#: The pages each chunk in progress has committed, by (run, window, start): what a retry resumes from.
_COMMITTED: dict[str, ChunkResult] = {}


@task(name="pull-order-pages", timeout_seconds=1800, **API_TASK)
def pull_pages(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    window: dict[str, Any],
    position: dict[str, Any] | None,
    pages_per_task: int,
    page_size: int,
    run_id: str,
) -> dict[str, Any]:
    """Fetch and record up to ``pages_per_task`` pages; returns counts and where to go on.

    A retry of this task (same run, window and start) resumes after the last page the failed
    attempt committed, with that attempt's counts (kept in this process; a new process starts the
    chunk again, and pages already recorded load as no-ops).
    """
    key = orjson.dumps([run_id, window, position], option=orjson.OPT_SORT_KEYS).decode()
    with build_wish_client(wish_block) as client:
        chunk = pull_chunk(
            client,
            engine_for(warehouse_url),
            store,
            PullWindow.from_json(window),
            Position.from_json(position) if position else None,
            max_pages=pages_per_task,
            page_size=page_size,
            run_id=run_id,
            resume=_COMMITTED.get(key),
            on_page=lambda done: _COMMITTED.__setitem__(key, done),
        )
    _COMMITTED.pop(key, None)
    load = chunk.load
    return {
        "fetched": load.fetched,
        "new": load.new,
        "changed": load.changed,
        "unchanged": load.unchanged,
        "quarantined": load.quarantined,
        "flagged_future": chunk.flagged_future,
        "pages": chunk.pages,
        "requests": chunk.requests,
        "next_position": chunk.next_position.to_json() if chunk.next_position else None,
    }


@task(name="count-pull-changes", **DB_TASK)
def count_pull_changes(store: str, warehouse_url: str, run_id: str) -> dict[str, Any]:
    """How many orders the run added and changed, read from the warehouse (exact across task
    retries), with the ids of the new ones due soonest (at most ``NEW_IDS_KEPT``)."""
    changes = run_changes(engine_for(warehouse_url), store, run_id)
    return {"new_order_ids": changes.new_order_ids, "new": changes.new, "changed": changes.changed}
