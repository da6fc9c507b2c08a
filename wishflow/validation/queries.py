"""Queries over the deadline and quarantine views, for flows, the CLI and the shipping stage.

The shipping stage must only ever take orders from :func:`ready_to_ship_order_ids`: it returns open
APPROVED orders whose *current* version passed validation, so a quarantined order (or one changed
upstream since it was judged) can never reach shipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Engine, Float, Integer, String, bindparam, text
from sqlalchemy.sql.selectable import TextualSelect

from wishflow.warehouse.types import UTCDateTime
from wishflow.warehouse.validation_views import AT_RISK_CONDITION, AT_RISK_HOURS_DEFAULT, DUE_WITHIN_CONDITION

_TYPES: dict[str, Any] = {
    "released_at": UTCDateTime(),
    "expected_ship_time": UTCDateTime(),
    "updated_at": UTCDateTime(),
    "quarantined_since": UTCDateTime(),
    "validated_updated_at": UTCDateTime(),
    "hours_left": Float(),
    "hours_held": Float(),
    "is_wish_express": Boolean(),
    "is_confirmed_delivery": Boolean(),
    "quantity": Integer(),
    "blocking_failures": Integer(),
    "order_id": String(),
}

#: How far the database's clock may be ahead of this process's without ``orders_at_risk`` missing rows.
_CLOCK_MARGIN_MINUTES = 10

_ORDER_COLUMNS = (
    "store, order_id, released_at, expected_ship_time, hours_left, is_wish_express, is_confirmed_delivery, "
    "country_code, province, city, sku, quantity"
)


def _typed(sql: str, columns: list[str], **bind_types: Any) -> TextualSelect:
    stmt = text(sql)
    if bind_types:
        stmt = stmt.bindparams(*(bindparam(name, type_=t) for name, t in bind_types.items()))
    return stmt.columns(**{c: _TYPES.get(c, String()) for c in columns})


def _rows(
    engine: Engine, sql: str, columns: list[str], bind_types: dict[str, Any] | None = None, **params: Any
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(_typed(sql, columns, **(bind_types or {})), params)
        return [dict(row._mapping) for row in result]


def _limit(limit: int | None) -> str:
    return f" LIMIT {int(limit)}" if limit is not None else ""


def unprocessed_orders(engine: Engine, store: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Valid, open APPROVED orders of ``store``, soonest ship-by deadline first (``v_unprocessed_orders``).

    The view has no order of its own (migration 0012): this query's ``ORDER BY`` is the deadline
    index's, so the first ``limit`` rows come off the index whatever the history's size.
    """
    columns = [c.strip() for c in _ORDER_COLUMNS.split(",")]
    sql = (
        f"SELECT {_ORDER_COLUMNS} FROM v_unprocessed_orders WHERE store = :store "
        f"ORDER BY expected_ship_time, order_id{_limit(limit)}"
    )
    return _rows(engine, sql, columns, store=store)


def orders_at_risk(
    engine: Engine, store: str, hours: float = AT_RISK_HOURS_DEFAULT, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Open orders of ``store``, valid or not yet validated, under ``hours`` left before their ship-by deadline.

    Overdue ones are included. Quarantined orders are the quarantine queue's (:func:`quarantined_orders`,
    with their hours left), so no order is counted in both. ``v_orders_at_risk`` is this with 24 hours
    (the one definition: ``AT_RISK_CONDITION``).
    """
    return _due_within(engine, store, hours, AT_RISK_CONDITION, limit)


def orders_due_within(engine: Engine, store: str, hours: float, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Every open order of ``store`` under ``hours`` left before its ship-by deadline, quarantined ones too.

    The deadline warning sent to the merchant lists these: a quarantined order about to miss its deadline
    is what most needs a person (its ``validation_status`` says it is held). The queue counts stay
    :func:`orders_at_risk` and :func:`quarantined_orders`, which never count an order twice.
    """
    return _due_within(engine, store, hours, DUE_WITHIN_CONDITION, limit)


def _deadline_bound(hours: float) -> datetime:
    """An upper bound of the ship-by deadline of every order under ``hours`` left (a few minutes generous).

    ``hours_left`` is computed, so it cannot use an index; with this bound the database range-scans the
    deadline index instead of reading every open order, and ``hours_left`` stays the exact test.
    """
    return datetime.now(UTC) + timedelta(hours=float(hours), minutes=_CLOCK_MARGIN_MINUTES)


def _due_within(engine: Engine, store: str, hours: float, condition: str, limit: int | None) -> list[dict[str, Any]]:
    columns = [c.strip() for c in _ORDER_COLUMNS.split(",")] + ["validation_status"]
    sql = (
        f"SELECT {_ORDER_COLUMNS}, validation_status FROM v_open_orders "
        "WHERE store = :store AND expected_ship_time < :deadline_bound AND "
        + condition.format(hours=":hours")
        + f" ORDER BY expected_ship_time, order_id{_limit(limit)}"
    )
    return _rows(
        engine,
        sql,
        columns,
        {"deadline_bound": UTCDateTime()},
        store=store,
        hours=float(hours),
        deadline_bound=_deadline_bound(hours),
    )


@dataclass(frozen=True)
class DeadlineCounts:
    """How many open orders of a store are under a horizon's hours left, counted by the database."""

    #: at risk: valid or pending, never quarantined (:func:`orders_at_risk`'s rows)
    at_risk: int
    #: every open order under the horizon, quarantined ones too (:func:`orders_due_within`'s rows)
    due: int
    #: of ``due``, those already past their deadline
    overdue: int
    #: of ``due``, those held in quarantine
    quarantined: int


def deadline_counts(engine: Engine, store: str, hours: float) -> DeadlineCounts:
    """The sizes of :func:`orders_at_risk` and :func:`orders_due_within` at ``hours``, in one query.

    Counted in SQL over the same conditions, so a deadline warning states its true totals while it
    reads only the rows it lists.
    """
    # the two conditions are module constants, their ``{hours}`` slot a bound parameter (as in _due_within)
    sql = (
        "SELECT count(*), COALESCE(SUM(CASE WHEN "
        + AT_RISK_CONDITION.format(hours=":hours")
        + " THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN hours_left < 0 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN validation_status = 'quarantined' THEN 1 ELSE 0 END), 0) "
        "FROM v_open_orders WHERE store = :store AND expected_ship_time < :deadline_bound AND "
        + DUE_WITHIN_CONDITION.format(hours=":hours")
    )
    stmt = text(sql).bindparams(bindparam("deadline_bound", type_=UTCDateTime()))
    with engine.connect() as conn:
        n_due, n_at_risk, overdue, quarantined = conn.execute(
            stmt, {"store": store, "hours": float(hours), "deadline_bound": _deadline_bound(hours)}
        ).one()
    return DeadlineCounts(int(n_at_risk), int(n_due), int(overdue), int(quarantined))


def count_quarantined(engine: Engine, store: str) -> int:
    """How many open orders of ``store`` are held in quarantine (the rows of :func:`quarantined_orders`)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM v_quarantined_orders WHERE store = :store"), {"store": store}
            ).scalar_one()
        )


def quarantined_orders(engine: Engine, store: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Open orders of ``store`` held in quarantine, with the rules they fail.

    Those whose latest verdict is invalid, with the blocking rules they fail and the hours they have
    been held (``v_quarantined_orders``; closed orders need no fixing).
    """
    columns = [
        "store",
        "order_id",
        "state",
        "updated_at",
        "expected_ship_time",
        "hours_left",
        "country_code",
        "quarantined_since",
        "hours_held",
        "blocking_failures",
        "reasons",
    ]
    sql = (
        f"SELECT {', '.join(columns)} FROM v_quarantined_orders WHERE store = :store "
        f"ORDER BY expected_ship_time, order_id{_limit(limit)}"
    )
    return _rows(engine, sql, columns, store=store)


def ready_to_ship_order_ids(engine: Engine, store: str, *, limit: int | None = None) -> list[str]:
    """Ids of the orders the shipping stage may ship, soonest deadline first.

    Open APPROVED orders whose current ``updated_at`` was judged valid; never a quarantined order,
    never one pending (re-)validation.
    """
    sql = (
        "SELECT order_id FROM v_unprocessed_orders WHERE store = :store "
        f"ORDER BY expected_ship_time, order_id{_limit(limit)}"
    )
    return [r["order_id"] for r in _rows(engine, sql, ["order_id"], store=store)]


def is_ready_to_ship(engine: Engine, store: str, order_ids: list[str]) -> dict[str, bool]:
    """For each id, whether it is in :func:`ready_to_ship_order_ids` (a guard just before shipping)."""
    if not order_ids:
        return {}
    stmt = text("SELECT order_id FROM v_unprocessed_orders WHERE store = :store AND order_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with engine.connect() as conn:
        ready = {r[0] for r in conn.execute(stmt, {"store": store, "ids": list(order_ids)})}
    return {oid: oid in ready for oid in order_ids}


def order_summaries(engine: Engine, store: str, order_ids: list[str]) -> list[dict[str, Any]]:
    """Digest fields (no personal data) of the given orders, for the new-orders notification."""
    from sqlalchemy import select

    from wishflow.warehouse.schema import orders

    columns = [
        "order_id",
        "sku",
        "quantity",
        "country_code",
        "released_at",
        "expected_ship_time",
        "is_wish_express",
        "is_confirmed_delivery",
    ]
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for start in range(0, len(order_ids), 1000):
            chunk = order_ids[start : start + 1000]
            stmt = select(*[orders.c[c] for c in columns]).where(orders.c.store == store, orders.c.order_id.in_(chunk))
            out.extend(dict(row._mapping) for row in conn.execute(stmt))
    return out


@dataclass(frozen=True)
class OrderViews:
    """What the validation stage shows the merchant: quarantined, valid unshipped and due-soon orders.

    Each list holds only the rows shown, soonest deadline first; the queues' sizes are counted by the
    database, so reading them costs the same whatever the history's size.
    """

    #: open orders held in quarantine (the first ``limit``)
    quarantined: list[dict[str, Any]]
    #: valid open orders waiting to ship (the first ``limit``)
    unprocessed: list[dict[str, Any]]
    #: open orders due within the horizon, quarantined ones too: the deadline warning's lines (the first
    #: ``due_rows``)
    due_soon: list[dict[str, Any]]
    #: every open order in quarantine
    quarantined_count: int
    #: the counts under the horizon (at risk; due, overdue and quarantined among the due)
    deadlines: DeadlineCounts


def order_views(engine: Engine, store: str, risk_hours: float, *, limit: int, due_rows: int) -> OrderViews:
    """The views of ``store`` the validation stage shows (see :class:`OrderViews`)."""
    return OrderViews(
        quarantined=quarantined_orders(engine, store, limit=limit),
        unprocessed=unprocessed_orders(engine, store, limit=limit),
        due_soon=orders_due_within(engine, store, risk_hours, limit=due_rows),
        quarantined_count=count_quarantined(engine, store),
        deadlines=deadline_counts(engine, store, risk_hours),
    )
