"""Penalties: new ones and reversals, each a sync-engine stream with its own cursor.

New ones are read by ``created_at`` and reversals by ``reversed_at``, each a stream of the sync engine
(:mod:`wishflow.sync.engine`).

More penalties created at one instant than a page holds (a nightly sweep penalising many late orders
at once) cannot be paged by ``created_at`` alone, and no filter of ``GET /penalties`` selects a part
of them that includes the unreversed ones (``reversed_at_*`` selects reversed penalties only). Such
a group is read by id instead: every order payload lists its penalties' ids (spec: ``Order.penalties``),
so the ids the recorded orders name and the warehouse has not recorded are read with
``GET /penalties/{id}``, and the group is complete when it holds as many penalties as
``GET /penalties/count`` counts for the instant. A group still short is flagged, never a wedge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Engine, select

from wishflow.aftersales.common import write_changed
from wishflow.api.after_sales import count_penalties, get_penalty, penalties_keyset
from wishflow.api.contract import WishApi
from wishflow.api.errors import WishError
from wishflow.api.pagination import Keyset, Whole
from wishflow.orders.flatten import parse_wish_time
from wishflow.sync import engine as sync_engine
from wishflow.sync.engine import Outcome, Stream
from wishflow.sync.window import DEFAULT_SAFETY_LAG, server_clock
from wishflow.warehouse.aftersales_schema import penalties
from wishflow.warehouse.orders_writer import CursorAdvance, advance_cursor
from wishflow.warehouse.schema import orders

CREATED_STREAM = "penalties"
REVERSED_STREAM = "penalties_reversed"
DEFAULT_LOOKBACK = timedelta(minutes=10)


def penalty_row(store: str, penalty: Mapping[str, Any]) -> dict[str, Any]:
    """The warehouse row of one Wish penalty for ``store``.

    Money becomes an exact decimal and its currency; an unreadable amount is stored as NULL, so a
    malformed penalty is visible rather than failing the page.
    """
    raw_money = penalty.get("penalty_amount")
    money: dict[str, Any] = raw_money if isinstance(raw_money, dict) else {}
    try:
        amount = Decimal(str(money["amount"])) if money.get("amount") is not None else None
    except (InvalidOperation, ValueError):
        amount = None
    entity_type = penalty.get("related_entity_type")
    entity_id = penalty.get("related_entity_id")
    return {
        "store": store,
        "penalty_id": str(penalty["id"]),
        "penalty_reason": penalty.get("penalty_reason"),
        "related_entity_type": entity_type,
        "related_entity_id": entity_id,
        "order_id": entity_id if entity_type == "ORDER" else None,
        "penalty_amount": amount,
        "currency_code": money.get("currency_code"),
        "created_at": parse_wish_time(penalty.get("created_at")),
        "reversed": bool(penalty.get("reversed")),
        "reversed_at": parse_wish_time(penalty.get("reversed_at")),
        "raw": dict(penalty),
    }


@dataclass
class PenaltySync:
    """What a penalty sync read and recorded (new, updated and reversed penalties)."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    new_penalties: list[dict[str, Any]] = field(default_factory=list)
    unresolved: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON-ready values, for the flow's return value and the CLI."""
        return {
            "fetched": self.fetched,
            "inserted": self.inserted,
            "updated": self.updated,
            "unresolved": self.unresolved,
            "new_penalties": self.new_penalties,
        }


def record_penalties(
    engine: Engine,
    store: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    loaded_at: datetime,
    cursor: CursorAdvance | None = None,
    result: PenaltySync | None = None,
) -> PenaltySync:
    """Upsert ``payloads`` (penalties as Wish returns them) for ``store``; returns what changed.

    Idempotent: recording the same penalties again changes nothing, so a page read twice after a
    retry or a look-back is harmless.
    """
    result = result or PenaltySync()
    rows = [penalty_row(store, p) for p in payloads if isinstance(p, Mapping) and p.get("id")]
    with engine.begin() as conn:
        inserted, updated = write_changed(conn, penalties, ("store", "penalty_id"), rows, loaded_at=loaded_at)
        if cursor is not None:
            advance_cursor(conn, store, cursor, None, loaded_at)
    result.fetched += len(payloads)
    result.inserted += inserted
    result.updated += updated
    return result


def _new_penalty(p: Mapping[str, Any]) -> dict[str, Any]:
    money = p.get("penalty_amount")
    return {
        "penalty_id": p.get("id"),
        "reason": p.get("penalty_reason"),
        "order_id": p.get("related_entity_id") if p.get("related_entity_type") == "ORDER" else None,
        "amount": money.get("amount") if isinstance(money, dict) else None,
        "created_at": p.get("created_at"),
    }


def _penalty_recorder(loaded_at: datetime | None, *, report_new: bool) -> sync_engine.RecordPage:
    def record(
        engine: Engine,
        store: str,
        records: list[Any],
        *,
        cursor: CursorAdvance | None,
        run_id: str | None,  # noqa: ARG001 (RecordPage's signature)
    ) -> Outcome:
        done = record_penalties(engine, store, records, loaded_at=loaded_at or datetime.now(UTC), cursor=cursor)
        outcome: Outcome = {"fetched": done.fetched, "inserted": done.inserted, "updated": done.updated}
        if report_new and done.inserted:
            outcome["new_penalties"] = [_new_penalty(p) for p in records if isinstance(p, Mapping)]
        return outcome

    return record


def _named_unrecorded_ids(engine: Engine, store: str, since: datetime) -> list[str]:
    """Penalty ids named by orders updated at or after ``since`` that the warehouse has not recorded.

    A penalty on an order updates the order (Wish adds its id to ``Order.penalties``), so every
    penalty created at ``since`` is named by an order updated then or later.
    """
    named: set[str] = set()
    with engine.connect() as conn:
        for raw in conn.execute(
            select(orders.c.raw).where(orders.c.store == store, orders.c.updated_at >= since)
        ).scalars():
            doc = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
            ids = doc.get("penalties") if isinstance(doc, dict) else None
            named.update(i for i in ids or () if isinstance(i, str))
        if not named:
            return []
        recorded = set(
            conn.execute(
                select(penalties.c.penalty_id).where(
                    penalties.c.store == store, penalties.c.penalty_id.in_(sorted(named))
                )
            ).scalars()
        )
    return sorted(named - recorded)


def _recorded_at(
    engine: Engine, store: str, by: str, instant: datetime, other: str, other_at: datetime | None
) -> set[str]:
    query = select(penalties.c.penalty_id).where(penalties.c.store == store, penalties.c[by] == instant)
    if other_at is not None:
        query = query.where(penalties.c[other] == other_at)
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def by_id(client: WishApi, engine: Engine, store: str, by: str) -> Whole:
    """The paginator's last resort for a group of penalties at one instant (see the module docstring)."""
    other = "reversed_at" if by == "created_at" else "created_at"

    def whole(filters: dict[str, Any], partial: list[Any]) -> tuple[list[Any], bool]:
        instant = filters[f"{by}_max"]  # the min may be sent a millisecond early (read profiles)
        other_at = filters.get(f"{other}_max")

        def matches(p: Any) -> bool:
            return (
                isinstance(p, dict)
                and parse_wish_time(p.get(by)) == instant
                and (other_at is None or parse_wish_time(p.get(other)) == other_at)
            )

        expected = count_penalties(client, **filters)
        found = {str(p["id"]): p for p in partial if matches(p) and p.get("id")}
        for penalty_id in _named_unrecorded_ids(engine, store, instant):
            if penalty_id in found:
                continue
            try:
                penalty = get_penalty(client, penalty_id)
            except WishError as exc:
                if exc.retryable:
                    raise
                continue  # gone at Wish: not part of the group
            if matches(penalty):
                found[penalty_id] = penalty
        known = set(found) | _recorded_at(engine, store, by, instant, other, other_at)
        return list(found.values()), expected is not None and len(known) >= expected

    return whole


def _keyset(by: str) -> Any:
    def keyset(client: WishApi, engine: Engine, store: str) -> Keyset:
        return penalties_keyset(client, by, whole=by_id(client, engine, store, by))

    return keyset


#: New penalties, by ``created_at``.
PENALTIES_CREATED = Stream(
    name=CREATED_STREAM,
    cursor_field="created_at",
    keyset=_keyset("created_at"),
    record=_penalty_recorder(None, report_new=True),
)
#: Reversals, by ``reversed_at`` (a saturated instant narrowed by ``created_at``).
PENALTIES_REVERSED = Stream(
    name=REVERSED_STREAM,
    cursor_field="reversed_at",
    keyset=_keyset("reversed_at"),
    record=_penalty_recorder(None, report_new=False),
)


def sync_penalties(
    client: WishApi,
    engine: Engine,
    store: str,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    page_size: int = 500,
    now: datetime | None = None,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
) -> PenaltySync:
    """Record penalties created and reversed since the last sync (idempotent).

    Through the sync engine (:mod:`wishflow.sync.engine`).
    """
    result = PenaltySync()
    server_now = server_clock(client)
    for stream in (PENALTIES_CREATED, PENALTIES_REVERSED):
        if now is not None:
            stream = replace(stream, record=_penalty_recorder(now, report_new=stream is PENALTIES_CREATED))
        chunk = sync_engine.sync(
            stream,
            client,
            engine,
            store,
            server_now=server_now,
            lookback=lookback,
            safety_lag=safety_lag,
            page_size=page_size,
        )
        result.fetched += chunk.count("fetched")
        result.inserted += chunk.count("inserted")
        result.updated += chunk.count("updated")
        result.unresolved += chunk.unresolved
        result.new_penalties.extend(chunk.items("new_penalties"))
    return result


def fetch_penalties(client: WishApi, engine: Engine, store: str, penalty_ids: Sequence[str]) -> PenaltySync:
    """Read specific penalties by id (e.g. ids an order payload refers to) and record them."""
    payloads = [get_penalty(client, pid) for pid in penalty_ids]
    return record_penalties(engine, store, payloads, loaded_at=datetime.now(UTC))
