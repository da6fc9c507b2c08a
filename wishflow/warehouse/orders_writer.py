"""Record a page of orders, its history, its quarantine and the cursor in one transaction.

Current state is upserted, history appended, bad records quarantined and the sync cursor moved, all in
one transaction.

This is where invariants 1, 2 and 4 of DESIGN.md §4 are kept: every record Wish returned ends up in
``orders`` or ``rejected_records``; the cursor moves only together with the data it covers; and
loading the same payloads again changes nothing (an older or equal payload never overwrites a newer
one, events are deduplicated on their natural key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Numeric, String, and_, case, func, select, update

from wishflow.orders.flatten import ORDER_COLUMNS, flatten_order, milestones
from wishflow.orders.parse import OrderRecordError, ParsedOrder
from wishflow.warehouse.bulk import (
    copy_into,
    copy_text,
    dialect_insert,
    fill_stage,
    stage_table,
    upsert_from_stage,
    write_transaction,
)
from wishflow.warehouse.schema import order_events, orders, rejected_records, sync_state
from wishflow.warehouse.stored_versions import STORED_PROBE
from wishflow.warehouse.validation_schema import order_validation_queue

ORDERS_STREAM = "orders"
_STAGE_ORDER_COLUMNS = (
    "store",
    *ORDER_COLUMNS,
    "first_seen_run_id",
    "last_run_id",
    "_loaded_at",
)
_EVENT_COLUMNS = ("store", "order_id", "event_type", "event_time", "from_state", "to_state", "_loaded_at")
_QUEUE_COLUMNS = ("store", "order_id", "updated_at", "queued_at")
_UPDATED_AT = ORDER_COLUMNS.index("updated_at")
_STATE = ORDER_COLUMNS.index("state")


#: Bounds of the typed columns (position in a flattened order, column, type kind, bound): PostgreSQL
#: refuses a longer text or a bigger number, and one such order would otherwise fail its whole batch
#: (and every later pull of it). SQLite does not enforce them; the check runs on both, alike.
def _bound(column_type: Any) -> tuple[str, int]:
    if isinstance(column_type, String):
        return "text", column_type.length or 0
    if type(column_type) is Integer:
        return "integer", 2**31 - 1
    if isinstance(column_type, Numeric) and column_type.precision is not None:
        return "number", 10 ** (column_type.precision - (column_type.scale or 0))
    return "", 0


_LIMITS: tuple[tuple[int, str, str, int], ...] = tuple(
    (i, name, *_bound(orders.c[name].type)) for i, name in enumerate(ORDER_COLUMNS) if _bound(orders.c[name].type)[1]
)


_TEXT_LIMITS = tuple((i, name, bound) for i, name, kind, bound in _LIMITS if kind == "text")
_INT_LIMITS = tuple((i, name, bound) for i, name, kind, bound in _LIMITS if kind == "integer")
_NUMBER_LIMITS = tuple((i, name, bound) for i, name, kind, bound in _LIMITS if kind == "number")


def _out_of_bounds(values: tuple[Any, ...]) -> str | None:
    """Why a flattened order cannot be stored as it is, or None (on the hot path: kept cheap)."""
    for i, name, bound in _TEXT_LIMITS:
        value = values[i]
        if value is not None and len(value) > bound:
            return f"malformed order: {name} is {len(value)} characters, longer than the {bound} the warehouse holds"
    for i, name, bound in _INT_LIMITS:
        value = values[i]
        if value is not None and not -bound <= value <= bound:
            return f"malformed order: {name} {value} is out of range"
    for i, name, bound in _NUMBER_LIMITS:
        value = values[i]
        if value is None:
            continue
        number = value if isinstance(value, Decimal) else Decimal(value)
        if not number.is_finite() or abs(number) >= bound:
            return f"malformed order: {name} {value} is out of range"
    return None


@dataclass(frozen=True)
class CursorAdvance:
    """Move ``stream``'s cursor forward to ``value`` (never backwards) with this batch."""

    stream: str
    value: datetime


@dataclass
class LoadResult:
    """What one batch did to the warehouse."""

    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    new_order_ids: list[str] = field(default_factory=list)
    changed_order_ids: list[str] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        """Add another page's counts to these (a run's total is the sum of its pages)."""
        self.fetched += other.fetched
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.new_order_ids.extend(other.new_order_ids)
        self.changed_order_ids.extend(other.changed_order_ids)


def _newest_per_order(parsed: Sequence[ParsedOrder]) -> list[ParsedOrder]:
    """One payload per order id (the newest), so a batch never touches a row twice."""
    newest: dict[str, ParsedOrder] = {}
    for order in parsed:
        seen = newest.get(order.core.id)
        if seen is None or order.core.updated_at > seen.core.updated_at:
            newest[order.core.id] = order
    return list(newest.values())


def _split_too_long(
    batch: list[ParsedOrder], rejected: Sequence[OrderRecordError]
) -> tuple[list[ParsedOrder], list[tuple[Any, ...]], list[OrderRecordError]]:
    """Flatten the batch; an order with a value longer than its column holds is rejected with why."""
    kept: list[ParsedOrder] = []
    flat: list[tuple[Any, ...]] = []
    errors = list(rejected)
    for order in batch:
        values = flatten_order(order)
        too_long = _out_of_bounds(values)
        if too_long is None:
            kept.append(order)
            flat.append(values)
        else:
            errors.append(OrderRecordError(order.core.id, too_long, order.payload))
    return kept, flat, errors


def _record_key(error: OrderRecordError) -> str:
    if error.order_id:
        return error.order_id[:128]
    return "sha1:" + hashlib.sha1(error.raw_json().encode()).hexdigest()


@dataclass
class PreparedBatch:
    """A batch made ready to write, with no database involved.

    The newest payload per order, flattened and bounds-checked, its stage rows (and their COPY text),
    its milestones.

    Preparing is the Python half of a load; :func:`write_orders` is the database half, so a pull
    prepares page N+1 while the database merges page N (:func:`wishflow.pull.pull_chunk`).
    """

    store: str
    run_id: str | None
    loaded_at: datetime
    fetched: int
    orders: list[ParsedOrder]
    rows: list[tuple[Any, ...]]
    rejected: list[OrderRecordError]
    milestones: list[list[tuple[str, datetime]]]
    encoded: bytes | None = None
    #: the append's ``order_events`` and queue text, made ahead with ``encoded`` (see :func:`_append_text`)
    append_text: tuple[bytes, bytes] | None = None
    #: whether the warehouse held any of these orders when the pull asked (``None``: not asked; the
    #: writer then asks itself, :mod:`wishflow.warehouse.stored_versions`)
    stored: bool | None = None
    #: records the pull set aside, their version recorded already: counted read and unchanged
    unchanged: int = 0


def prepare_orders(
    store: str,
    parsed: Sequence[ParsedOrder],
    rejected: Sequence[OrderRecordError] = (),
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    encode: bool = False,
    stored: bool | None = None,
    unchanged: int = 0,
) -> PreparedBatch:
    """The Python half of :func:`load_orders`; ``encode`` also makes the stage's COPY text (PostgreSQL).

    ``stored`` and ``unchanged`` carry what the pull learnt before parsing (see :class:`PreparedBatch`).
    """
    loaded_at = now or datetime.now(UTC)
    batch, flat, errors = _split_too_long(_newest_per_order(parsed), rejected)
    rows = [(store, *values, run_id, run_id, loaded_at) for values in flat]
    prepared = PreparedBatch(
        store=store,
        run_id=run_id,
        loaded_at=loaded_at,
        fetched=len(parsed) + len(rejected) + unchanged,
        orders=batch,
        rows=rows,
        rejected=errors,
        milestones=[milestones(order.payload) if order.milestones is None else order.milestones for order in batch],
        stored=stored,
        unchanged=unchanged,
    )
    if encode:
        prepared.encoded = copy_text(rows)
        prepared.append_text = _append_text(prepared)
    return prepared


def _append_rows(prepared: PreparedBatch) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows :func:`_append_new` copies beside the orders: their events, and their queue entries.

    Every order new: each one's first event per natural key (the merge's ``ON CONFLICT DO NOTHING``
    keeps the first; ``COPY`` has no ``ON CONFLICT`` to drop a page's own repeats).
    """
    events: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for event in _events(prepared, {}, LoadResult()):
        events.setdefault(event[:4], event)
    store, loaded_at = prepared.store, prepared.loaded_at
    queued = [
        (store, order.core.id, row[1 + _UPDATED_AT], loaded_at)
        for order, row in zip(prepared.orders, prepared.rows, strict=True)
    ]
    return list(events.values()), queued


def _append_text(prepared: PreparedBatch) -> tuple[bytes, bytes]:
    """:func:`_append_rows` as ``COPY`` text, made on the thread that prepares the page.

    The loader thread that writes the page then only waits on PostgreSQL: encoding them there took
    a fifth of its time, and it is the pull's slower thread (bench/PROFILE.md). A page that turns
    out to hold stored orders is merged instead, and this text goes unused.
    """
    events, queued = _append_rows(prepared)
    return copy_text(events), copy_text(queued)


def load_orders(
    engine: Engine,
    store: str,
    parsed: Sequence[ParsedOrder],
    rejected: Sequence[OrderRecordError] = (),
    *,
    run_id: str | None = None,
    cursor: CursorAdvance | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Write one batch in one transaction and say what changed."""
    prepared = prepare_orders(store, parsed, rejected, run_id=run_id, now=now)
    return write_orders(engine, prepared, cursor=cursor)


def write_orders(
    bind: Engine | Connection, prepared: PreparedBatch, *, cursor: CursorAdvance | None = None
) -> LoadResult:
    """The database half of :func:`load_orders`: one transaction, and what changed.

    ``bind`` is an engine, or a connection its caller holds for a run of pages (see
    :func:`~wishflow.warehouse.bulk.write_transaction`).
    """
    store, loaded_at = prepared.store, prepared.loaded_at
    if not prepared.rows and not prepared.rejected:  # every record set aside (or none): the cursor only
        if cursor is not None:
            with write_transaction(bind) as conn:
                advance_cursor(conn, store, cursor, prepared.run_id, loaded_at)
        return LoadResult(fetched=prepared.fetched, unchanged=prepared.unchanged)
    try:
        with write_transaction(bind) as conn:
            result = _append_new(conn, prepared)
            if result is None:
                result = _merge(conn, prepared)
            _record_the_rest(conn, prepared, result, cursor)
    except _MergeInstead:  # rolled back whole: the append is the transaction's first write
        with write_transaction(bind) as conn:
            result = _merge(conn, prepared)
            _record_the_rest(conn, prepared, result, cursor)
    return result


def _record_the_rest(conn: Any, prepared: PreparedBatch, result: LoadResult, cursor: CursorAdvance | None) -> None:
    """After the page's orders, in their transaction: its quarantine, the quarantine it resolves, the cursor."""
    store, run_id, loaded_at = prepared.store, prepared.run_id, prepared.loaded_at
    result.unchanged += prepared.unchanged
    if prepared.rejected:
        _quarantine(conn, store, prepared.rejected, run_id, loaded_at)
    touched = result.new_order_ids + result.changed_order_ids
    if touched and _has_open_rejections(conn, store):
        conn.execute(
            update(rejected_records)
            .where(
                rejected_records.c.store == store,
                rejected_records.c.source == ORDERS_STREAM,
                rejected_records.c.record_key.in_(touched),
                rejected_records.c.resolved_at.is_(None),
            )
            .values(resolved_at=loaded_at)
        )
    if cursor is not None:
        advance_cursor(conn, store, cursor, run_id, loaded_at)


#: SQLSTATEs after which a page of new orders is merged instead: another writer stored one of its
#: orders (or their events, or queued them) since the probe (unique_violation), or two such writers
#: each waited for the other's rows (deadlock_detected).
_MERGE_INSTEAD = frozenset({"23505", "40P01"})


class _MergeInstead(Exception):
    """The append met rows another writer committed since its probe: roll back, and merge the page."""


def _append_new(conn: Any, prepared: PreparedBatch) -> LoadResult | None:
    """Append a page none of whose orders is stored yet straight to its tables (PostgreSQL); else None.

    Most pages of a backfill are wholly new. For them the merge's work is waste: the stage's heap
    written and read back, a speculative insertion per order, its events and its queue entry (with
    the probes ``ON CONFLICT`` makes), two stage tables truncated: about a fifth of PostgreSQL's CPU per
    order (bench/PROFILE.md). One index probe shows that none of the page's orders is stored (the
    pull's own, made before it parsed the page, when it says so: ``prepared.stored``); then the page
    is ``COPY``-ed into ``orders``, ``order_events`` and the validation queue. The probe does not
    lock: a writer committing one of these orders meanwhile (another pull, or this pull's previous
    page) makes a ``COPY`` fail on a unique key, which raises :class:`_MergeInstead`, and
    :func:`write_orders` merges the page in a new transaction, so nothing is lost and no newer
    payload is overwritten. The append is the first thing its transaction writes, so rolling that
    back costs nothing a savepoint would have kept (and a savepoint cost two round trips a page).
    """
    if not prepared.orders or conn.dialect.name != "postgresql" or prepared.stored:
        return None
    store = prepared.store
    ids = [order.core.id for order in prepared.orders]
    if prepared.stored is None and conn.exec_driver_sql(STORED_PROBE, {"store": store, "ids": ids}).first() is not None:
        return None
    result = LoadResult(fetched=prepared.fetched, quarantined=len(prepared.rejected), new=len(ids))
    result.new_order_ids.extend(ids)
    events_text: bytes | None = None
    queued_text: bytes | None = None
    events: list[tuple[Any, ...]] = []
    queued: list[tuple[Any, ...]] = []
    if prepared.append_text is not None:
        events_text, queued_text = prepared.append_text
    else:
        events, queued = _append_rows(prepared)
    try:
        copy_into(conn, orders, _STAGE_ORDER_COLUMNS, prepared.rows, encoded=prepared.encoded)
        copy_into(conn, order_events, _EVENT_COLUMNS, events, encoded=events_text)
        copy_into(conn, order_validation_queue, _QUEUE_COLUMNS, queued, encoded=queued_text)
    except Exception as exc:
        if _sqlstate(exc) in _MERGE_INSTEAD:
            raise _MergeInstead from exc
        raise
    return result


def _sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL error code of a driver error, raised as it is or wrapped by SQLAlchemy."""
    return getattr(exc, "pgcode", None) or getattr(getattr(exc, "orig", None), "pgcode", None)


def _events(
    prepared: PreparedBatch, known: dict[str, tuple[datetime, str]], result: LoadResult
) -> list[tuple[Any, ...]]:
    """The page's events for its new and newer orders (``known``: stored versions); counts them in ``result``."""
    store, loaded_at = prepared.store, prepared.loaded_at
    events: list[tuple[Any, ...]] = []
    for order, row, order_milestones in zip(prepared.orders, prepared.rows, prepared.milestones, strict=True):
        order_id = order.core.id
        new_updated_at = row[1 + _UPDATED_AT]
        new_state = row[1 + _STATE]
        previous = known.get(order_id)
        if previous is None:
            result.new += 1
            result.new_order_ids.append(order_id)
            old_state = None
        elif previous[0] < new_updated_at:
            result.changed += 1
            result.changed_order_ids.append(order_id)
            old_state = previous[1]
        else:
            result.unchanged += 1
            continue
        if old_state != new_state:
            events.append((store, order_id, "STATE_CHANGED", new_updated_at, old_state, new_state, loaded_at))
        for event_type, event_time in order_milestones:
            events.append((store, order_id, event_type, event_time, None, None, loaded_at))
    return events


def _merge(conn: Any, prepared: PreparedBatch) -> LoadResult:
    """Merge a page through stages: upsert the newer payloads, append their events, queue them."""
    result = LoadResult(fetched=prepared.fetched, quarantined=len(prepared.rejected))
    stage_orders = stage_table(orders, key_index=False)  # read whole by every statement (EXPLAIN)
    stage_events = stage_table(order_events)
    # No ANALYZE of the page's stages: each statement below that joins one reads the stage whole
    # and looks every staged row up by ``orders``' primary key, the plan PostgreSQL picks from
    # the stage's page count alone (EXPLAIN ANALYZE in bench/PROFILE.md); the two ANALYZEs were
    # a sixth of the merge's statement time.
    fill_stage(conn, stage_orders, _STAGE_ORDER_COLUMNS, prepared.rows, encoded=prepared.encoded, analyze=False)
    known = {
        order_id: (updated_at, state)
        for order_id, updated_at, state in conn.execute(
            select(stage_orders.c.order_id, orders.c.updated_at, orders.c.state).join(
                orders,
                and_(orders.c.store == stage_orders.c.store, orders.c.order_id == stage_orders.c.order_id),
            )
        )
    }
    events = _events(prepared, known, result)
    # Every new or newer payload awaits validation until a verdict on that exact version.
    touched = result.new_order_ids + result.changed_order_ids
    if touched:
        _queue_for_validation(conn, stage_orders, None if len(touched) == len(prepared.rows) else touched)
    upsert_from_stage(
        conn,
        orders,
        stage_orders,
        ("store", "order_id"),
        newer_than="updated_at",
        insert_only=("first_seen_run_id",),
    )
    if events:
        fill_stage(conn, stage_events, _EVENT_COLUMNS, events, analyze=False)
        upsert_from_stage(
            conn,
            order_events,
            stage_events,
            ("store", "order_id", "event_type", "event_time"),
            update=False,
        )
    return result


def _has_open_rejections(conn: Any, store: str) -> bool:
    """Whether any order record of ``store`` is held in quarantine.

    One probe of the ``(store, resolved_at)`` index, where resolving the page's orders sent up to 500
    keys per page (most pages, a backfill's all, have nothing to resolve).
    """
    probe = (
        select(rejected_records.c.record_key)
        .where(
            rejected_records.c.store == store,
            rejected_records.c.resolved_at.is_(None),
            rejected_records.c.source == ORDERS_STREAM,
        )
        .limit(1)
    )
    return conn.execute(probe).first() is not None


def _queue_for_validation(conn: Any, stage: Any, order_ids: Sequence[str] | None) -> None:
    """Queue the staged orders that are new or newer than the stored version: ``order_ids``, or all.

    The caller knows which they are (it read the stored versions in this transaction), so the queue is
    filled from the stage alone: no second join with ``orders`` (a key lookup per staged order). A
    reload of the same payload queues nothing; a queued version is replaced only by a newer one, so a
    writer that committed a newer version meanwhile keeps its entry.
    """
    q = order_validation_queue
    newer = select(stage.c.store, stage.c.order_id, stage.c.updated_at, stage.c._loaded_at)
    if order_ids is not None:
        newer = newer.where(stage.c.order_id.in_(order_ids))
    # one lock order for every writer: two pulls queueing the same orders could otherwise deadlock
    newer = newer.order_by(stage.c.order_id)
    stmt = dialect_insert(conn, q).from_select(["store", "order_id", "updated_at", "queued_at"], newer)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store", "order_id"],
        set_={"updated_at": stmt.excluded.updated_at, "queued_at": stmt.excluded.queued_at},
        where=q.c.updated_at < stmt.excluded.updated_at,
    )
    conn.execute(stmt)


def _quarantine(conn: Any, store: str, rejected: Sequence[OrderRecordError], run_id: str | None, now: datetime) -> None:
    unique: dict[str, dict[str, Any]] = {}
    for error in rejected:
        key = _record_key(error)
        unique[key] = {
            "store": store,
            "source": ORDERS_STREAM,
            "record_key": key,
            "order_id": error.order_id[:64] if error.order_id else None,
            "reason": error.reason.replace("\x00", ""),
            "raw": error.raw_json(),
            "first_seen_at": now,
            "last_seen_at": now,
            "run_id": run_id,
            "resolved_at": None,
            "_loaded_at": now,
        }
    stmt = dialect_insert(conn, rejected_records)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store", "source", "record_key"],
        set_={
            "reason": stmt.excluded.reason,
            "raw": stmt.excluded.raw,
            "last_seen_at": stmt.excluded.last_seen_at,
            "run_id": stmt.excluded.run_id,
            "resolved_at": None,
            "_loaded_at": stmt.excluded._loaded_at,
        },
    )
    for row in unique.values():  # rare path: a handful of bad records per page at most
        conn.execute(stmt, row)


def advance_cursor(conn: Any, store: str, cursor: CursorAdvance, run_id: str | None, now: datetime) -> None:
    """Move a cursor forward inside the caller's transaction; a smaller value is ignored."""
    stmt = dialect_insert(conn, sync_state).values(
        store=store, stream=cursor.stream, cursor_value=cursor.value, run_id=run_id, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["store", "stream"],
        set_={
            "cursor_value": stmt.excluded.cursor_value,
            "run_id": stmt.excluded.run_id,
            "updated_at": stmt.excluded.updated_at,
        },
        where=sync_state.c.cursor_value < stmt.excluded.cursor_value,
    )
    conn.execute(stmt)


def read_cursor(engine: Engine, store: str, stream: str = ORDERS_STREAM) -> datetime | None:
    """The stream's saved high-water mark, or None before the first load."""
    with engine.connect() as conn:
        return conn.execute(
            select(sync_state.c.cursor_value).where(sync_state.c.store == store, sync_state.c.stream == stream)
        ).scalar_one_or_none()


#: How many of a run's new order ids ``run_changes`` returns (soonest ship-by first): enough for any
#: digest, while a backfill of a million new orders never materialises a million ids.
NEW_IDS_KEPT = 1000


@dataclass(frozen=True)
class RunChanges:
    """How many orders a run recorded first and how many others it updated.

    And the new ones with the soonest ship-by deadlines (at most ``NEW_IDS_KEPT``).
    """

    new: int
    changed: int
    new_order_ids: list[str]


def run_changes(engine: Engine, store: str, run_id: str, *, keep_ids: int = NEW_IDS_KEPT) -> RunChanges:
    """The orders a run recorded first and how many others it updated, counted by the database.

    Counted from the warehouse rather than from task results, so pages written by an attempt
    that later failed and was retried still count as new for the run (and reach the digest).
    """
    mine = and_(orders.c.store == store, orders.c.last_run_id == run_id)
    first = orders.c.first_seen_run_id == run_id
    with engine.connect() as conn:
        total, new = conn.execute(
            select(func.count(), func.coalesce(func.sum(case((first, 1), else_=0)), 0)).where(mine)
        ).one()
        ids = conn.execute(
            select(orders.c.order_id)
            .where(mine, first)
            .order_by(orders.c.expected_ship_time.is_(None), orders.c.expected_ship_time, orders.c.order_id)
            .limit(keep_ids)
        ).scalars()
        return RunChanges(new=int(new), changed=int(total) - int(new), new_order_ids=list(ids))
