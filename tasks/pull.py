"""Tasks of the order pull: plan the window, then fetch-and-record a chunk of pages per task run.

A task run covers up to ``pages_per_task`` pages (500 orders each), so task runs grow with pages,
never with orders. Requests are retried by the client (see :mod:`wishflow.api.client`); a task
retry is for what outlasts that, and resumes after the last page the failed attempt committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
from prefect import task

from blocks.wish import build_wish_client
from tasks.common import API_TASK, DB_TASK, engine_for
from wishflow.api.pagination import Position
from wishflow.pull import ChunkResult, PullWindow, plan_window, pull_chunk
from wishflow.warehouse.orders_writer import RunChanges, run_changes


@task(name="plan-pull-window", **API_TASK)
def plan_pull(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    since: datetime | None,
    until: datetime | None,
    lookback: timedelta,
    safety_lag: timedelta,
) -> PullWindow:
    """Decide the window (checking the token and reading Wish's clock on the way).

    An incremental window's :meth:`~wishflow.pull.PullWindow.future_sweep` is the sweep read after it.
    """
    with build_wish_client(wish_block) as client:
        now = client.server_now()
    return plan_window(
        engine_for(warehouse_url),
        store,
        now=now,
        since=since,
        until=until,
        lookback=lookback,
        safety_lag=safety_lag,
    )


#: The pages each chunk in progress has committed, by (run, window, start): what a retry resumes from.
_COMMITTED: dict[str, ChunkResult] = {}


@task(name="pull-order-pages", timeout_seconds=1800, **API_TASK)
def pull_pages(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    window: PullWindow,
    position: Position | None,
    pages_per_task: int,
    page_size: int,
    run_id: str,
) -> ChunkResult:
    """Fetch and record up to ``pages_per_task`` pages; returns counts and where to go on.

    A retry of this task (same run, window and start) resumes after the last page the failed
    attempt committed, with that attempt's counts (kept in this process; a new process starts the
    chunk again, and pages already recorded load as no-ops).
    """
    key = orjson.dumps(
        [run_id, window.to_json(), position.to_json() if position else None], option=orjson.OPT_SORT_KEYS
    ).decode()
    with build_wish_client(wish_block) as client:
        chunk = pull_chunk(
            client,
            engine_for(warehouse_url),
            store,
            window,
            position,
            max_pages=pages_per_task,
            page_size=page_size,
            run_id=run_id,
            resume=_COMMITTED.get(key),
            on_page=lambda done: _COMMITTED.__setitem__(key, done),
        )
    _COMMITTED.pop(key, None)
    return chunk


@task(name="count-pull-changes", **DB_TASK)
def count_pull_changes(store: str, warehouse_url: str, run_id: str) -> RunChanges:
    """How many orders the run added and changed, read from the warehouse.

    Reading the warehouse keeps the counts exact across task retries. The ids of the new orders due soonest come with
    them (at most ``NEW_IDS_KEPT``).
    """
    return run_changes(engine_for(warehouse_url), store, run_id)
