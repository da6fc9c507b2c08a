"""Read the action list and the queue counts, the one source every surface prints from.

The CLI (``wishflow todo``, ``wishflow orders``), the demo, the report and the daily-summary
notification all count the same things the same way: through the views, by :func:`queue_counts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, Float, Integer, String, text

from wishflow.actions.views import ACTION_VIEW
from wishflow.warehouse.types import UTCDateTime

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

#: the action list's columns, as SQL (our own column names)
ACTION_SELECT_LIST = ", ".join(ACTION_COLUMNS)
_ACTION_ORDER = " ORDER BY severity_rank, CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, kind, entity_id"


_RELATION_NAME = re.compile(r"(analytics\.)?[a-z_][a-z0-9_]*")


def checked_view(views: Mapping[str, str] | None, name: str) -> str:
    """The relation to read for the documented view ``name``: itself, or what ``views`` maps it to.

    ``views`` maps to the analytics views (:func:`wishflow.warehouse.analytics.queue_views`). Only a
    plain view name (optionally in the analytics schema) is ever put into SQL text; anything else is
    refused.
    """
    relation = (views or {}).get(name, name)
    if not _RELATION_NAME.fullmatch(relation):
        raise ValueError(f"not a view name: {relation!r}")
    return relation


def action_items(
    engine: Engine,
    store: str,
    *,
    kind: str | None = None,
    limit: int | None = None,
    views: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The things to do for ``store``, most urgent first.

    Missed deadlines first, then at risk, then the rest, each by due time (``v_action_items``, or what
    ``views`` maps it to).
    """
    relation = checked_view(views, ACTION_VIEW)
    sql = (
        f"SELECT {ACTION_SELECT_LIST} FROM {relation} WHERE store = :store"
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
    #: Open orders, valid or pending (never quarantined: those are ``quarantined``), with under 24 h
    #: left or overdue (``v_orders_at_risk``; equals the action list's ``order_at_risk`` rows).
    at_risk: int
    #: Open orders whose current version has not been validated yet.
    awaiting_validation: int
    #: Rows of ``v_action_items`` by kind (every kind present, zeros included).
    actions: dict[str, int] = field(default_factory=dict)
    #: Rows of ``v_action_items`` by severity.
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def total_actions(self) -> int:
        """Every action item, whatever its kind."""
        return sum(self.actions.values())

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON, with the total the fields do not store."""
        return {**asdict(self), "total_actions": self.total_actions}


def queue_counts(engine: Engine, store: str, *, views: Mapping[str, str] | None = None) -> QueueCounts:
    """Every queue's size for ``store``, read from the views that define them (one round trip each).

    ``views`` maps a documented view's name to the relation to read instead (the analytics views).
    """
    with engine.connect() as conn:

        def count(view: str, condition: str = "") -> int:
            relation = checked_view(views, view)
            sql = f"SELECT count(*) FROM {relation} WHERE store = :store" + condition
            return int(conn.execute(text(sql), {"store": store}).scalar_one())

        quarantined = count("v_quarantined_orders")
        waiting = count("v_unprocessed_orders")
        at_risk = count("v_orders_at_risk")
        pending = count("v_open_orders", " AND validation_status = 'pending'")
        actions = {kind: 0 for kind in ACTION_KINDS}
        severities = {"missed": 0, "at_risk": 0, "action": 0}
        relation = checked_view(views, ACTION_VIEW)
        for kind, severity, n in conn.execute(
            text(f"SELECT kind, severity, count(*) FROM {relation} WHERE store = :store GROUP BY kind, severity"),
            {"store": store},
        ):
            actions[kind] = actions.get(kind, 0) + int(n)
            severities[severity] = severities.get(severity, 0) + int(n)
    return QueueCounts(quarantined, waiting, at_risk, pending, actions, severities)
