"""One whole tracking poll without Prefect (scripts, tests): the same steps the flow runs as tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from wishflow.api.contract import WishApi
from wishflow.tracking.refresh import plan_tracking_window, refresh_by_id, refresh_changed
from wishflow.tracking.status import TrackingPolicy
from wishflow.tracking.store import TrackingUpdate, due_for_poll, update_tracking


@dataclass
class PollResult:
    """What a tracking poll did as of ``now``: orders whose tracking changed and orders polled."""

    now: datetime
    changed_order_ids: list[str] = field(default_factory=list)
    polled_order_ids: list[str] = field(default_factory=list)
    pages: int = 0
    update: TrackingUpdate = field(default_factory=TrackingUpdate)

    def to_json(self) -> dict[str, Any]:
        """The poll as JSON-ready values (counts and ids), for the flow's result and the CLI."""
        return {
            "now": self.now.isoformat(),
            "changed": len(self.changed_order_ids),
            "polled_by_id": len(self.polled_order_ids),
            "pages": self.pages,
            **self.update.to_json(),
        }


def poll_once(
    client: WishApi,
    engine: Engine,
    store: str,
    *,
    now: datetime,
    policy: TrackingPolicy | None = None,
    max_polls: int | None = None,
    batch_size: int = 500,
    max_workers: int = 8,
    lookback: timedelta = timedelta(minutes=10),
    safety_lag: timedelta = timedelta(seconds=30),
) -> PollResult:
    """Refresh changed orders, read quiet parcels by id, derive tracking (``now`` = Wish's clock)."""
    policy = policy or TrackingPolicy()
    window = plan_tracking_window(engine, store, now=now, lookback=lookback, safety_lag=safety_lag)
    result = PollResult(now=now)
    position = None
    while True:
        chunk = refresh_changed(client, engine, store, window, position)
        result.pages += chunk.pages
        result.changed_order_ids.extend(chunk.changed_order_ids)
        position = chunk.next_position
        if position is None:
            break
    due = due_for_poll(engine, store, now=now, policy=policy, exclude=result.changed_order_ids, limit=max_polls)
    for start in range(0, len(due), batch_size):
        refresh_by_id(client, engine, store, due[start : start + batch_size], max_workers=max_workers)
    result.polled_order_ids = due
    result.update = update_tracking(
        engine, store, now=now, policy=policy, polled_order_ids=set(result.changed_order_ids) | set(due)
    )
    return result
