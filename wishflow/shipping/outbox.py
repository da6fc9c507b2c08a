"""The exactly-once shipping outbox (``shipments``).

Wish's ``PUT /orders/{id}/tracking`` has no idempotency key and completes asynchronously, so the only
way to never ship an order twice, nor overwrite a tracking number on a retry, is to write down what we
are about to do before doing it, and to look before sending again:

``planned``     the tracking number is saved (before anything is sent).
``submitting``  claimed by one worker: atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
                ``BEGIN IMMEDIATE`` transaction on SQLite), so two runs never hold the same row. Just
                before the PUT the worker stamps ``sent_at`` (only if it still holds the claim): a row
                with no ``sent_at`` was certainly never sent.
``submitted``   Wish accepted the write; it is followed until ``processing_status`` settles.
``confirmed``   SUCCEEDED.        ``failed``   rejected, or FAILED at Wish (the order is ready again).
``conflict``    another tracking number is on the order: never overwritten; a person must decide.

After any uncertain outcome (timeout, dropped connection, 5xx, a crash leaving a row in
``submitting`` with ``sent_at`` set) the order is **read back** before anything is sent again
(:func:`judge_readback`): our number on it -> submitted; another number -> conflict; no tracking and
still APPROVED -> safe to send, but only once our last send has *settled*: a request the client gave
up on may still be processed by Wish after the read-back, so a row sent less than the settle horizon
ago (a policy, :mod:`wishflow.shipping.write_policy`) is parked and read back again after it.

The claim, the ``sent_at`` stamp and the guarded transitions work on any :class:`Ledger` (the
outbox table of one kind of write: ``shipments``, ``address_changes``, ``refund_requests``); the one
state machine that drives them is :class:`~wishflow.shipping.order_writes.WriteMachine`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, bindparam, insert, select, update

from wishflow.shipping.batching import ShipmentPlan
from wishflow.warehouse.bulk import dialect_insert, write_transaction
from wishflow.warehouse.shipping_schema import (
    address_changes,
    refund_requests,
    shipment_batches,
    shipment_events,
    shipments,
)


class State(StrEnum):
    """The states of an outbox row (see :mod:`wishflow.shipping.order_writes` for the transitions)."""

    PLANNED = "planned"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CONFLICT = "conflict"


#: States in which the row holds the order (``active_order_id`` set): nothing else may ship it.
HOLDING = frozenset({State.PLANNED, State.SUBMITTING, State.SUBMITTED, State.CONFLICT})
TERMINAL = frozenset({State.CONFIRMED, State.FAILED, State.CONFLICT})

#: A claim older than this is presumed abandoned (its worker died elsewhere); same-host claims of dead
#: processes are taken over at once.
DEFAULT_LEASE = timedelta(minutes=10)

_HOST = socket.gethostname()

#: Claim tokens of workers alive in this process; a same-process token not in here is abandoned
#: (e.g. a task run that raised and whose rows a retry or reconcile may take over at once).
LIVE_TOKENS: set[str] = set()


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_claim_token() -> str:
    """``host:pid:random``: unique per claim, and tells whether the claimer can still be alive."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claimer_is_dead(token: str | None) -> bool:
    """True when the claim was taken by a process on this host that no longer exists."""
    if not token:
        return True
    parts = token.split(":")
    if len(parts) < 3 or parts[0] != _HOST:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return token not in LIVE_TOKENS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


@dataclass(frozen=True)
class OutboxRow:
    """One tracking write as stored in ``shipments``: what to send, and where it stands."""

    shipment_id: str
    store: str
    order_id: str
    kind: str
    batch_id: str | None
    parcel_id: str
    carrier: str
    origin_country: str
    tracking_number: str
    previous_tracking_number: str | None
    ship_note: str | None
    state: str
    attempts: int
    claimed_by: str | None
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> OutboxRow:
        """Build from a database row, taking exactly the dataclass's fields."""
        m = row._mapping
        return cls(**{k: m[k] for k in cls.__dataclass_fields__})


# -- planning -----------------------------------------------------------------------------------


@dataclass
class SavedPlan:
    """What saving a plan did: the batches written, the rows planned, the orders another row already holds."""

    batch_ids: list[str]
    planned: int
    already_in_flight: list[str]


def save_plan(engine: Engine, store: str, plan: ShipmentPlan, *, run_id: str | None = None) -> SavedPlan:
    """Write the plan's batches and one ``planned`` row per order, tracking numbers included, in one transaction.

    An order another run already holds is skipped (the unique ``active_order_id``).
    """
    now = utcnow()
    batch_rows = []
    rows = []
    for batch in plan.batches:
        batch_rows.append(
            {
                "batch_id": batch.batch_id,
                "store": store,
                "run_id": run_id,
                "origin_country": batch.origin_country,
                "carrier": batch.carrier,
                "service": batch.service,
                "shipment_count": len(batch.parcels),
                "order_count": batch.order_count,
                "earliest_deadline_at": batch.earliest_deadline,
                "planned_at": now,
                "_loaded_at": now,
            }
        )
        for parcel in batch.parcels:
            if not parcel.tracking_number:
                raise ValueError(f"parcel {parcel.parcel_id} has no tracking number: label it before saving")
            for order in parcel.orders:
                rows.append(
                    _new_row(
                        store=store,
                        order_id=order.order_id,
                        kind="ship",
                        batch_id=batch.batch_id,
                        parcel_id=parcel.parcel_id,
                        carrier=parcel.decision.carrier,
                        service=parcel.decision.service,
                        package=parcel.package,
                        weight_grams=parcel.weight_grams,
                        origin_country=parcel.decision.origin_country,
                        tracking_number=parcel.tracking_number,
                        run_id=run_id,
                        now=now,
                    )
                )
    with engine.begin() as conn:
        if batch_rows:
            conn.execute(insert(shipment_batches), batch_rows)
        inserted = _insert_rows(conn, rows, now)
        skipped = [r["order_id"] for r in rows if r["shipment_id"] not in inserted]
        if skipped:
            # keep batch counts honest: a batch may have lost orders to a concurrent planner
            for batch in plan.batches:
                kept = sum(1 for p in batch.parcels for o in p.orders if o.order_id not in skipped)
                conn.execute(
                    update(shipment_batches)
                    .where(shipment_batches.c.batch_id == batch.batch_id)
                    .values(order_count=kept)
                )
    batch_ids = [b.batch_id for b in plan.batches]
    return SavedPlan(batch_ids, len(inserted), skipped)


def _new_row(**kw: Any) -> dict[str, Any]:
    now = kw.pop("now")
    return {
        "shipment_id": uuid.uuid4().hex,
        "active_order_id": kw["order_id"],
        "previous_tracking_number": None,
        "ship_note": None,
        "state": State.PLANNED.value,
        "attempts": 0,
        "claimed_by": None,
        "claimed_at": None,
        "sent_at": None,
        "last_error": None,
        "found_tracking_number": None,
        "wish_processing_status": None,
        "planned_at": now,
        "submitted_at": None,
        "finished_at": None,
        "updated_at": now,
        "_loaded_at": now,
        "service": None,
        "package": None,
        "weight_grams": None,
        "batch_id": None,
        **kw,
    }


def _insert_rows(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> set[str]:
    """Insert planned rows, skipping orders already held; returns the ids inserted."""
    if not rows:
        return set()
    stmt = dialect_insert(conn, shipments).on_conflict_do_nothing(index_elements=["store", "active_order_id"])
    conn.execute(stmt, rows)
    ids = [r["shipment_id"] for r in rows]
    inserted: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        inserted.update(
            conn.execute(select(shipments.c.shipment_id).where(shipments.c.shipment_id.in_(chunk))).scalars()
        )
    events = [
        {
            "shipment_id": r["shipment_id"],
            "store": r["store"],
            "order_id": r["order_id"],
            "from_state": None,
            "to_state": State.PLANNED.value,
            "detail": f"{r['kind']} with {r['carrier']} {r['tracking_number']}",
            "at": now,
        }
        for r in rows
        if r["shipment_id"] in inserted
    ]
    if events:
        conn.execute(insert(shipment_events), events)
    return inserted


def plan_single(
    engine: Engine,
    store: str,
    order_id: str,
    *,
    kind: str,
    carrier: str,
    origin_country: str,
    tracking_number: str,
    previous_tracking_number: str | None = None,
    ship_note: str | None = None,
    run_id: str | None = None,
) -> OutboxRow | None:
    """One outbox row outside a batch (``modify`` of a shipped order, or a hand-given shipment).

    Returns None when the order is already held by another row.
    """
    now = utcnow()
    row = _new_row(
        store=store,
        order_id=order_id,
        kind=kind,
        parcel_id=uuid.uuid4().hex,
        carrier=carrier,
        origin_country=origin_country,
        tracking_number=tracking_number,
        previous_tracking_number=previous_tracking_number,
        ship_note=ship_note,
        run_id=run_id,
        now=now,
    )
    with engine.begin() as conn:
        inserted = _insert_rows(conn, [row], now)
    if not inserted:
        return None
    # get_row serves every ledger (typed Any); the tracking ledger's rows load as OutboxRow.
    return cast("OutboxRow | None", get_row(engine, row["shipment_id"]))


# -- ledgers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """One outbox table.

    Every write kind keeps its rows in one (``shipments`` for tracking, ``address_changes``, ``refund_requests``), all
    with the same state columns (``state``, ``claimed_by``, ``claimed_at``, ``attempts``, ``sent_at``, ``last_error``,
    ``active_order_id``, ...). The claim, the ``sent_at`` stamp and the guarded transitions below work on any of them;
    columns a table lacks (``found_tracking_number``, ``submitted_at``, ...) are skipped. ``events``, when set, gets one
    row per state change; ``load`` turns a selected row into what the kind's judge reads.
    """

    table: Table
    id_column: str
    events: Table | None = None
    load: Callable[[Any], Any] = lambda row: row

    @property
    def id(self) -> Any:
        """The table's id column, for queries."""
        return self.table.c[self.id_column]

    def row_id(self, row: Any) -> str:
        """The id of a row read from this table."""
        return str(getattr(row, self.id_column))


SHIPMENTS = Ledger(shipments, "shipment_id", shipment_events, OutboxRow.from_row)
ADDRESS_CHANGES = Ledger(address_changes, "change_id")
REFUND_REQUESTS = Ledger(refund_requests, "request_id")


def holder(engine: Engine, ledger: Ledger, store: str, order_id: str) -> Any:
    """The row of ``ledger`` that holds ``order_id`` now (in flight or in conflict), or None."""
    t = ledger.table
    with engine.connect() as conn:
        return conn.execute(select(t).where(t.c.store == store, t.c.active_order_id == order_id)).first()


def insert_planned(engine: Engine, ledger: Ledger, values: dict[str, Any]) -> str | None:
    """Write one ``planned`` row before anything is sent, so every send has a row to be judged by.

    ``values`` holds the kind's own columns and ``store``/``order_id``. None when another row holds the order already
    (``active_order_id`` is unique per store: two runs never plan the same order twice).
    """
    now = utcnow()
    row_id = uuid.uuid4().hex
    row = {
        ledger.id_column: row_id,
        "active_order_id": values["order_id"],
        "state": State.PLANNED.value,
        "attempts": 0,
        "planned_at": now,
        "updated_at": now,
        "_loaded_at": now,
        **values,
    }
    with engine.begin() as conn:
        stmt = dialect_insert(conn, ledger.table).on_conflict_do_nothing(index_elements=["store", "active_order_id"])
        conn.execute(stmt, row)
        got = conn.execute(select(ledger.id).where(ledger.id == row_id)).first()
    return row_id if got is not None else None


def _event_rows(
    conn: Connection, ledger: Ledger, changes: Sequence[tuple[str, str | None, str, str | None]], at: datetime
) -> None:
    """Record state changes (row id, from, to, detail) in the ledger's events table, if it has one."""
    if ledger.events is None or not changes:
        return
    ids = [c[0] for c in changes]
    keys = {
        str(r[0]): (r.store, r.order_id)
        for r in conn.execute(
            select(ledger.id, ledger.table.c.store, ledger.table.c.order_id).where(ledger.id.in_(ids))
        )
    }
    conn.execute(
        insert(ledger.events),
        [
            {
                ledger.id_column: row_id,
                "store": keys[row_id][0],
                "order_id": keys[row_id][1],
                "from_state": from_state,
                "to_state": to_state,
                "detail": (detail or "")[:4000] or None,
                "at": at,
            }
            for row_id, from_state, to_state, detail in changes
            if row_id in keys
        ],
    )


# -- claiming -----------------------------------------------------------------------------------


def _lock_candidates(conn: Connection, stmt: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def claim_batch(engine: Engine, batch_id: str, token: str, *, limit: int = 100) -> list[OutboxRow]:
    """Move up to ``limit`` planned rows of ``batch_id`` to ``submitting`` under claim ``token``."""
    return claim_where(
        engine,
        SHIPMENTS,
        and_(shipments.c.batch_id == batch_id, shipments.c.state == State.PLANNED.value),
        token,
        limit,
    )


def claim_planned(
    engine: Engine,
    store: str,
    token: str,
    *,
    shipment_ids: Sequence[str] | None = None,
    limit: int = 100,
    ledger: Ledger = SHIPMENTS,
) -> list[Any]:
    """Claim planned rows of ``store`` (any, or only the rows ``shipment_ids``)."""
    t = ledger.table
    cond = and_(t.c.store == store, t.c.state == State.PLANNED.value)
    if shipment_ids is not None:
        cond = and_(cond, ledger.id.in_(list(shipment_ids)))
    return claim_where(engine, ledger, cond, token, limit)


def claim_stale(
    engine: Engine,
    store: str,
    token: str,
    *,
    lease: timedelta = DEFAULT_LEASE,
    limit: int = 500,
    shipment_ids: Sequence[str] | None = None,
    ledger: Ledger = SHIPMENTS,
) -> list[Any]:
    """Take over ``submitting`` rows nobody is working on.

    Released (no claimer), claimed by a dead process on this host, or claimed longer ago than ``lease``. They keep their
    ``sent_at``: a row that was sent must be read back before it is sent again.
    """
    now = utcnow()
    t = ledger.table
    cond = and_(t.c.store == store, t.c.state == State.SUBMITTING.value)
    if shipment_ids is not None:
        cond = and_(cond, ledger.id.in_(list(shipment_ids)))
    with engine.connect() as conn:
        candidates = conn.execute(select(ledger.id, t.c.claimed_by, t.c.claimed_at).where(cond)).all()
    stale = [
        str(r[0])
        for r in candidates
        if r.claimed_by is None
        or claimer_is_dead(r.claimed_by)
        or (r.claimed_at is not None and r.claimed_at < now - lease)
    ][:limit]
    if not stale:
        return []
    previous = {str(r[0]): r.claimed_by for r in candidates}
    claimed: list[Any] = []
    with write_transaction(engine) as conn:
        for row_id in stale:
            stmt = (
                update(t)
                .where(
                    ledger.id == row_id,
                    t.c.state == State.SUBMITTING.value,
                    t.c.claimed_by.is_(None) if previous[row_id] is None else t.c.claimed_by == previous[row_id],
                )
                .values(claimed_by=token, claimed_at=now, attempts=t.c.attempts + 1, updated_at=now)
            )
            if conn.execute(stmt).rowcount == 1:
                claimed.append(ledger.load(conn.execute(select(t).where(ledger.id == row_id)).one()))
    return claimed


def claim_where(engine: Engine, ledger: Ledger, cond: Any, token: str, limit: int) -> list[Any]:
    """Claim up to ``limit`` planned rows matching ``cond`` (oldest first).

    ``submitting`` under ``token``, ``sent_at`` cleared (a planned row was never sent; a requeued one was not
    processed).
    """
    now = utcnow()
    t = ledger.table
    with write_transaction(engine) as conn:
        pick = _lock_candidates(conn, select(ledger.id).where(cond).order_by(t.c.planned_at, ledger.id).limit(limit))
        ids = [str(i) for i in conn.execute(pick).scalars()]
        if not ids:
            return []
        conn.execute(
            update(t)
            .where(ledger.id.in_(ids), t.c.state == State.PLANNED.value)
            .values(
                state=State.SUBMITTING.value,
                claimed_by=token,
                claimed_at=now,
                sent_at=None,
                attempts=t.c.attempts + 1,
                updated_at=now,
            )
        )
        _event_rows(
            conn, ledger, [(i, State.PLANNED.value, State.SUBMITTING.value, f"claimed by {token}") for i in ids], now
        )
        rows = conn.execute(
            select(t).where(ledger.id.in_(ids), t.c.claimed_by == token).order_by(t.c.planned_at, ledger.id)
        ).all()
    return [ledger.load(r) for r in rows]


def mark_sending(
    engine: Engine, shipment_id: str, token: str, *, now: datetime | None = None, ledger: Ledger = SHIPMENTS
) -> bool:
    """Stamp ``sent_at`` just before the PUT, only if ``token`` still holds the row.

    False: don't send. ``now`` is the machine's clock (the one its settle horizon is measured on).
    """
    now = now or utcnow()
    t = ledger.table
    with engine.begin() as conn:
        result = conn.execute(
            update(t)
            .where(ledger.id == shipment_id, t.c.state == State.SUBMITTING.value, t.c.claimed_by == token)
            .values(sent_at=now, updated_at=now)
        )
        return result.rowcount == 1


# -- transitions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """Move one row to ``to``, guarded so that a stale worker cannot overwrite a newer state.

    It must still be in ``from_state`` and, when given, claimed by ``token``. ``release`` clears the claim (a row left
    in submitting then awaits a read-back); ``clear_sent`` forgets ``sent_at`` (the send was not processed); ``sent_at``
    puts an earlier send's time back (a refused resend leaves the earlier, uncertain one to settle).
    """

    row_id: str
    to: State
    from_state: State
    token: str | None = None
    detail: str | None = None
    found_tracking_number: str | None = None
    processing_status: str | None = None
    release: bool = False
    clear_sent: bool = False
    sent_at: datetime | None = None

    @property
    def shipment_id(self) -> str:
        """The row's id under the tracking ledger's name (kept for callers written before other kinds existed)."""
        return self.row_id


def apply(engine: Engine, transitions: Sequence[Transition], *, ledger: Ledger = SHIPMENTS) -> int:
    """Apply transitions in one transaction with their events; returns how many applied."""
    if not transitions:
        return 0
    now = utcnow()
    applied = 0
    t = ledger.table
    with engine.begin() as conn:
        events = []
        for tr in transitions:
            guard = [ledger.id == tr.row_id, t.c.state == tr.from_state.value]
            if tr.token is not None:
                guard.append(t.c.claimed_by == tr.token)
            values: dict[str, Any] = {"state": tr.to.value, "updated_at": now}
            optional = {
                "last_error": tr.detail[:4000] if tr.detail is not None else None,
                "wish_processing_status": tr.processing_status,
                "found_tracking_number": tr.found_tracking_number,
                "submitted_at": now if tr.to == State.SUBMITTED and tr.from_state == State.SUBMITTING else None,
                "finished_at": now if tr.to in TERMINAL else None,
                "sent_at": tr.sent_at,
            }
            values.update({k: v for k, v in optional.items() if v is not None and k in t.c})
            if tr.to in (State.CONFIRMED, State.FAILED):
                values["active_order_id"] = None
            if tr.to != State.SUBMITTING or tr.release:
                values["claimed_by"] = None
            if tr.clear_sent:
                values["sent_at"] = None
            if conn.execute(update(t).where(*guard).values(**values)).rowcount == 1:
                applied += 1
                if tr.to != tr.from_state:
                    events.append((tr.row_id, tr.from_state.value, tr.to.value, tr.detail))
        _event_rows(conn, ledger, events, now)
    return applied


# -- read-back ----------------------------------------------------------------------------------


class Verdict(StrEnum):
    """What a judge decided for a row; each value says what the row does next."""

    SEND = "send"  # nothing of ours on the order, and nothing of ours can still land: safe to send
    SUBMITTED = "submitted"  # our number is on the order, processing not finished
    CONFIRMED = "confirmed"  # our number is on the order and Wish says SUCCEEDED
    FAILED = "failed"  # proven: Wish failed our write, or the order can no longer be shipped
    CONFLICT = "conflict"  # another number is on the order: never overwrite
    WAIT = "wait"  # a write is queued or in progress on the order (maybe ours): read back later
    SETTLE = "settle"  # nothing of ours yet, but our last send may still land: read back after it settles
    PENDING = "pending"  # a submitted write whose outcome the read-back does not prove yet: keep following
    RESEND = "resend"  # a submitted write proven not to have landed: send again, with the same number


#: How long after a send whose outcome we did not see (a timeout, a lost response, a crash, an
#: accepted write that never shows) it may still land at Wish: a request queued behind Wish's gateway,
#: or processing the order does not show. Before it, "not on the order" proves nothing. A policy
#: setting (``WritePolicy.settle``), not the client's timeout; this is the judges' default.
DEFAULT_SETTLE = timedelta(hours=3)


@dataclass(frozen=True)
class Judgement:
    """A judge's verdict with its reason and what the read-back showed."""

    verdict: Verdict
    detail: str
    found_tracking_number: str | None = None
    processing_status: str | None = None
    settles_at: datetime | None = None  # SETTLE: when our last send can no longer land


def tracking_numbers(order: dict[str, Any]) -> list[str]:
    """Tracking numbers on an order payload, newest first."""
    out = []
    for item in order.get("tracking_information") or ():
        if isinstance(item, dict) and item.get("tracking_number"):
            out.append(str(item["tracking_number"]))
    return out


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _failure_reason(order: dict[str, Any]) -> str:
    """The reason of an asynchronous failure, where the read-back carries one.

    This is an assumption: Wish's spec documents only ``processing_status``.
    """
    for key in ("processing_failed_reason", "processing_failure_reason", "failed_reason"):
        if order.get(key):
            return f": {order[key]}"
    return ""


@dataclass(frozen=True)
class _Seen:
    """What a read-back shows about one row's write (shared by every judge)."""

    numbers: list[str]
    latest: str | None
    status: str | None
    source: str | None
    state: Any
    ours_latest: bool
    ours_replaced: bool
    foreign: str | None  # a number that is neither ours nor the one a modify replaces
    tracking_busy: bool  # a write is queued or in progress on the order
    failed_after_send: bool  # processing FAILED, proven to be about a write at or after our send
    failed_any: bool  # processing FAILED for a tracking write (of unknown age)
    settled: bool  # our last send can no longer land
    settles_at: datetime | None


def _see(row: OutboxRow, order: dict[str, Any], settle: timedelta, now: datetime | None) -> _Seen:
    numbers = tracking_numbers(order)
    latest = numbers[0] if numbers else None
    status = order.get("processing_status")
    source = order.get("processing_source")
    ours = row.tracking_number.upper()
    expected_current = (row.previous_tracking_number or "").upper() if row.kind == "modify" else ""
    foreign = latest if latest is not None and latest.upper() not in (ours, expected_current) else None
    tracking_failed = status == "FAILED" and source in (None, "UPDATE_TRACKING")
    updated = _parse_time(order.get("updated_at"))
    failed_after = tracking_failed and row.sent_at is not None and updated is not None and updated > row.sent_at
    settles_at = row.sent_at + settle if row.sent_at is not None else None
    settled = settles_at is None or (now or utcnow()) >= settles_at
    return _Seen(
        numbers=numbers,
        latest=latest,
        status=status,
        source=source,
        state=order.get("state"),
        ours_latest=latest is not None and latest.upper() == ours,
        ours_replaced=any(n.upper() == ours for n in numbers[1:]),
        foreign=foreign,
        tracking_busy=status == "IN_PROGRESS",
        failed_after_send=failed_after,
        failed_any=tracking_failed,
        settled=settled,
        settles_at=settles_at,
    )


def _on_order(row: OutboxRow, s: _Seen, order: dict[str, Any]) -> Judgement | None:
    """Verdicts that the order proves whatever the stage: ours on it, ours replaced, another number."""
    if s.ours_latest:
        if s.failed_any and (s.failed_after_send or s.state != "SHIPPED"):
            return Judgement(
                Verdict.FAILED,
                f"Wish processing_status FAILED for our tracking update{_failure_reason(order)}",
                None,
                s.status,
            )
        if s.status == "SUCCEEDED" or (s.status in (None, "FAILED") and s.state == "SHIPPED"):
            return Judgement(Verdict.CONFIRMED, "our tracking number is on the order; Wish SUCCEEDED", None, s.status)
        return Judgement(
            Verdict.SUBMITTED, f"our tracking number is on the order (processing {s.status})", None, s.status
        )
    if s.ours_replaced:
        return Judgement(
            Verdict.CONFLICT,
            f"our number {row.tracking_number} was replaced on the order by {s.latest}",
            s.latest,
            s.status,
        )
    if s.foreign is not None:
        return Judgement(
            Verdict.CONFLICT,
            f"the order carries another tracking number ({s.foreign}); not overwritten",
            s.foreign,
            s.status,
        )
    return None


def _not_on_order(row: OutboxRow, s: _Seen, order: dict[str, Any], *, following: bool) -> Judgement:
    """Nothing of ours on the order. What that proves depends on whether our send has settled."""
    shippable = ("APPROVED",) if row.kind == "ship" else ("SHIPPED", "APPROVED")
    if s.tracking_busy:
        verdict = Verdict.PENDING if following else Verdict.WAIT
        return Judgement(
            verdict, f"a write ({s.source}) is queued or in progress on the order; read back later", None, s.status
        )
    if s.failed_after_send:
        return Judgement(
            Verdict.FAILED,
            "Wish processing_status FAILED after our send (our write reached Wish and was rejected)"
            + _failure_reason(order),
            None,
            s.status,
        )
    if not s.settled:
        assert s.settles_at is not None
        detail = (
            f"our number is not on the order yet, but the send at {row.sent_at.isoformat() if row.sent_at else '?'} "
            f"may still land; read back after {s.settles_at.isoformat()}"
        )
        return Judgement(Verdict.PENDING if following else Verdict.SETTLE, detail, None, s.status, s.settles_at)
    # settled: a write of ours can no longer land, so the order as read is the outcome
    if s.state not in shippable:
        return Judgement(Verdict.FAILED, f"the order is {s.state}; it can no longer be shipped", None, s.status)
    if s.failed_any and row.sent_at is not None:
        return Judgement(
            Verdict.FAILED,
            f"Wish reports the last tracking update FAILED and ours is not on the order{_failure_reason(order)}",
            None,
            s.status,
        )
    if following:
        return Judgement(
            Verdict.RESEND,
            "our write was accepted but never landed (nothing of ours on the order after it settled); "
            "send it again with the same number",
            None,
            s.status,
        )
    return Judgement(Verdict.SEND, "our number is not on the order and it is still shippable", None, s.status)


def judge_readback(
    row: OutboxRow, order: dict[str, Any], *, settle: timedelta = DEFAULT_SETTLE, now: datetime | None = None
) -> Judgement:
    """What to do with a ``submitting`` row whose write may or may not have reached Wish.

    The decision is made on the order as read now.

    "Not on the order" proves nothing while our last send may still be on its way: a request the
    client gave up on (a timeout, a killed process) can be processed by Wish after the read-back. So a
    row sent less than ``settle`` ago is never judged safe to send again (:attr:`Verdict.SETTLE`); it
    is read back once the settle time has passed, when a late write of ours would show. A write queued
    or in progress on the order (maybe ours, maybe not visible as ours yet) is waited out
    (:attr:`Verdict.WAIT`). FAILED only when the order proves it.
    """
    s = _see(row, order, settle, now)
    return _on_order(row, s, order) or _not_on_order(row, s, order, following=False)


def judge_follow(
    row: OutboxRow, order: dict[str, Any], *, settle: timedelta = DEFAULT_SETTLE, now: datetime | None = None
) -> Judgement:
    """For a ``submitted`` row (Wish accepted the write): has it landed, and how?

    An outcome the read-back does not prove is :attr:`Verdict.PENDING` (keep following): the write
    queued (``IN_PROGRESS`` without our number yet), the order still in its old state, or an empty
    payload. FAILED only when Wish says so for a write at or after ours, or when our send has settled
    with nothing of ours on an order that is FAILED or can no longer ship. Settled with nothing of ours
    on a still shippable order is :attr:`Verdict.RESEND`: the first send provably did not land, so it
    may be sent again, with the same number.
    """
    if not order or "state" not in order:
        return Judgement(Verdict.PENDING, "the read-back carries no order state; proves nothing")
    s = _see(row, order, settle, now)
    return _on_order(row, s, order) or _not_on_order(row, s, order, following=True)


def judge_response(row: OutboxRow, response: Any) -> Judgement:
    """The immediate response of an accepted write proves only that Wish accepted it.

    Whatever it shows (the new state, the old state, a queued state, an empty body) the row becomes ``submitted`` and
    its outcome is judged by read-back (:func:`judge_follow`), never by this response.
    """
    if not isinstance(response, dict) or not response:
        return Judgement(Verdict.SUBMITTED, "accepted by Wish (empty response); outcome judged by read-back")
    numbers = tracking_numbers(response)
    status = response.get("processing_status")
    shown = "ours shown" if numbers and numbers[0].upper() == row.tracking_number.upper() else "ours not shown yet"
    return Judgement(
        Verdict.SUBMITTED, f"accepted by Wish ({shown}, processing {status}); outcome judged by read-back", None, status
    )


# -- queries ------------------------------------------------------------------------------------


def get_row(engine: Engine, shipment_id: str, *, ledger: Ledger = SHIPMENTS) -> Any:
    """One row of ``ledger`` (an :class:`OutboxRow` for ``shipments``)."""
    with engine.connect() as conn:
        return ledger.load(conn.execute(select(ledger.table).where(ledger.id == shipment_id)).one())


def rows_in_state(
    engine: Engine,
    store: str,
    state: State,
    *,
    shipment_ids: Sequence[str] | None = None,
    limit: int | None = None,
    ledger: Ledger = SHIPMENTS,
) -> list[Any]:
    """The rows of ``store`` in ``state``, oldest first; reconcile and follow work through these."""
    t = ledger.table
    stmt = select(t).where(t.c.store == store, t.c.state == state.value)
    params: dict[str, Any] = {}
    if shipment_ids is not None:
        stmt = stmt.where(ledger.id.in_(bindparam("ids", expanding=True)))
        params["ids"] = list(shipment_ids)
    stmt = stmt.order_by(t.c.planned_at, ledger.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [ledger.load(r) for r in conn.execute(stmt, params)]


def pending_batches(engine: Engine, store: str) -> list[str]:
    """Batches of ``store`` that still have planned rows, earliest deadline first.

    Such rows were left by a run that died or was rate limited before sending them; a later run resumes them.
    """
    from sqlalchemy import func

    stmt = (
        select(shipments.c.batch_id)
        .join(shipment_batches, shipment_batches.c.batch_id == shipments.c.batch_id)
        .where(shipments.c.store == store, shipments.c.state == State.PLANNED.value)
        .group_by(shipments.c.batch_id)
        .order_by(func.min(shipment_batches.c.earliest_deadline_at), func.min(shipments.c.planned_at))
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def counts_by_state(engine: Engine, store: str, batch_ids: Sequence[str] | None = None) -> dict[str, int]:
    """How many rows of ``store`` (optionally of ``batch_ids``) are in each state, for run reports."""
    from sqlalchemy import func

    stmt = select(shipments.c.state, func.count()).where(shipments.c.store == store).group_by(shipments.c.state)
    if batch_ids is not None:
        stmt = stmt.where(shipments.c.batch_id.in_(list(batch_ids)))
    with engine.connect() as conn:
        return {state: n for state, n in conn.execute(stmt)}


def conflicts(engine: Engine, store: str) -> list[dict[str, Any]]:
    """Open conflicts: what we meant to send, what Wish has, since when."""
    stmt = select(
        shipments.c.order_id,
        shipments.c.tracking_number,
        shipments.c.found_tracking_number,
        shipments.c.carrier,
        shipments.c.last_error,
        shipments.c.finished_at,
    ).where(shipments.c.store == store, shipments.c.state == State.CONFLICT.value)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def resolve_conflict(engine: Engine, store: str, order_id: str, note: str) -> int:
    """A person decided: close the conflict (the order is released from the outbox's hold)."""
    now = utcnow()
    with engine.begin() as conn:
        rows = (
            conn.execute(
                select(shipments.c.shipment_id).where(
                    shipments.c.store == store,
                    shipments.c.order_id == order_id,
                    shipments.c.state == State.CONFLICT.value,
                    shipments.c.active_order_id.is_not(None),
                )
            )
            .scalars()
            .all()
        )
        for shipment_id in rows:
            conn.execute(
                update(shipments)
                .where(shipments.c.shipment_id == shipment_id)
                .values(active_order_id=None, updated_at=now, last_error=f"resolved: {note}")
            )
            conn.execute(
                insert(shipment_events).values(
                    shipment_id=shipment_id,
                    store=store,
                    order_id=order_id,
                    from_state=State.CONFLICT.value,
                    to_state=State.CONFLICT.value,
                    detail=f"resolved by a person: {note}",
                    at=now,
                )
            )
    return len(rows)


__all__ = [
    "ADDRESS_CHANGES",
    "DEFAULT_LEASE",
    "REFUND_REQUESTS",
    "HOLDING",
    "Judgement",
    "Ledger",
    "SHIPMENTS",
    "OutboxRow",
    "SavedPlan",
    "State",
    "Transition",
    "Verdict",
    "apply",
    "claim_batch",
    "claim_planned",
    "claim_stale",
    "claim_where",
    "claimer_is_dead",
    "conflicts",
    "counts_by_state",
    "get_row",
    "holder",
    "insert_planned",
    "judge_follow",
    "judge_readback",
    "judge_response",
    "DEFAULT_SETTLE",
    "mark_sending",
    "new_claim_token",
    "pending_batches",
    "plan_single",
    "resolve_conflict",
    "rows_in_state",
    "save_plan",
]
