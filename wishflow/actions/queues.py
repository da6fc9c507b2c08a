"""Read the action list and the queue counts, the one source every surface prints from.

The CLI (``wishflow todo``, ``wishflow orders``), the demo, the report and the daily-summary
notification all count the same things the same way: through the views, by :func:`queue_counts`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, Float, Integer, String, text

from wishflow.actions.views import ACTION_VIEW
from wishflow.warehouse.types import UTCDateTime
from wishflow.warehouse.validation_views import constant_sql

#: Every ``kind`` of ``v_action_items``, in the order a person should read them.
ACTION_KINDS: tuple[str, ...] = (
    "quarantined_order",
    "order_at_risk",
    "shipment_pending_at_wish",
    "tracking_exception",
    "ticket_awaiting_merchant",
    "penalty_to_review",
)

ACTION_COLUMNS: tuple[str, ...] = (
    "kind",
    "severity",
    "order_id",
    "entity_id",
    "due_at",
    "hours_left",
    "opened_at",
    "what_to_do",
)

_TYPES: dict[str, Any] = {
    "due_at": UTCDateTime(),
    "opened_at": UTCDateTime(),
    "hours_left": Float(),
    "severity_rank": Integer(),
}

_SELECT_ACTIONS = constant_sql(
    "SELECT {columns} FROM {view} WHERE store = :store", columns=", ".join(ACTION_COLUMNS), view=ACTION_VIEW
)
_ACTION_ORDER = " ORDER BY severity_rank, CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, kind, entity_id"
_COUNT_ACTIONS = constant_sql(
    "SELECT kind, severity, count(*) FROM {view} WHERE store = :store GROUP BY kind, severity", view=ACTION_VIEW
)


def action_items(
    engine: Engine, store: str, *, kind: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The things to do for ``store``: missed deadlines first, then at risk, then the rest, each by
    due time (``v_action_items``)."""
    sql = (
        _SELECT_ACTIONS
        + (" AND kind = :kind" if kind else "")
        + _ACTION_ORDER
        + (f" LIMIT {int(limit)}" if limit is not None else "")
    )
    stmt = text(sql).columns(**{c: _TYPES.get(c, String()) for c in ACTION_COLUMNS})
    params: dict[str, Any] = {"store": store}
    if kind:
        params["kind"] = kind
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt, params)]


@dataclass(frozen=True)
class QueueCounts:
    """How many orders sit in each queue, and how many things there are to do, by kind."""

    #: Open orders held by validation (``v_quarantined_orders``).
    quarantined: int
    #: Open orders whose current version is valid, not yet shipped (``v_unprocessed_orders``).
    waiting_to_ship: int
    #: Open orders (quarantined ones included) with under 24 h left or overdue (``v_orders_at_risk``).
    at_risk: int
    #: Open orders whose current version has not been validated yet.
    awaiting_validation: int
    #: Rows of ``v_action_items`` by kind (every kind present, zeros included).
    actions: dict[str, int] = field(default_factory=dict)
    #: Rows of ``v_action_items`` by severity.
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def total_actions(self) -> int:
        return sum(self.actions.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total_actions": self.total_actions}


def queue_counts(engine: Engine, store: str) -> QueueCounts:
    """Every queue's size for ``store``, read from the views that define them (one round trip each)."""
    with engine.connect() as conn:

        def count(sql: str) -> int:
            return int(conn.execute(text(sql), {"store": store}).scalar_one())

        quarantined = count("SELECT count(*) FROM v_quarantined_orders WHERE store = :store")
        waiting = count("SELECT count(*) FROM v_unprocessed_orders WHERE store = :store")
        at_risk = count("SELECT count(*) FROM v_orders_at_risk WHERE store = :store")
        pending = count("SELECT count(*) FROM v_open_orders WHERE store = :store AND validation_status = 'pending'")
        actions = {kind: 0 for kind in ACTION_KINDS}
        severities = {"missed": 0, "at_risk": 0, "action": 0}
        for kind, severity, n in conn.execute(text(_COUNT_ACTIONS), {"store": store}):
            actions[kind] = actions.get(kind, 0) + int(n)
            severities[severity] = severities.get(severity, 0) + int(n)
    return QueueCounts(quarantined, waiting, at_risk, pending, actions, severities)
