"""Tickets: sync them, list those awaiting the merchant, and optionally answer common ones.

Tickets are synced with their replies; the common ones can be answered with a templated reply.

Templated replies are off by default and dry-run capable. A reply is a non-idempotent write: the
ticket is read again just before replying (still awaiting the merchant, last word not ours), and a
reply whose outcome is unknown (timeout) is settled by reading the ticket back, never by resending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from wishflow.aftersales.common import write_changed
from wishflow.api.after_sales import get_ticket, reply_ticket, tickets_keyset
from wishflow.api.contract import WishApi
from wishflow.api.errors import WishError, WishUncertainWriteError
from wishflow.orders.flatten import parse_wish_time
from wishflow.sync import engine as sync_engine
from wishflow.sync.engine import Outcome, Stream
from wishflow.sync.window import DEFAULT_SAFETY_LAG, server_clock
from wishflow.warehouse.aftersales_schema import ticket_replies, tickets
from wishflow.warehouse.orders_writer import CursorAdvance, advance_cursor
from wishflow.warehouse.schema import orders

TICKETS_STREAM = "tickets"
OPEN_STATES = ("AWAITING_MERCHANT", "AWAITING_USER", "AWAITING_WISH")
DEFAULT_LOOKBACK = timedelta(minutes=10)

#: Templated replies by ticket refund reason. Fields: order_id, tracking_number, carrier,
#: shipped_on, status_line.
DEFAULT_TEMPLATES: dict[str, str] = {
    "SHIPPING_TAKING_TOO_LONG": (
        "Hello, thank you for your patience. Your order {order_id} was shipped on {shipped_on} with "
        "{carrier}, tracking number {tracking_number}. {status_line} You can follow the parcel on the "
        "carrier's website with that number. We are sorry for the wait."
    ),
    "ITEM_NEVER_ARRIVED": (
        "Hello, we are sorry your parcel has not arrived. Your order {order_id} was shipped on {shipped_on} "
        "with {carrier}, tracking number {tracking_number}. {status_line} Please check with the carrier "
        "using that number; we are looking into it as well."
    ),
}


def _awaiting_since(ticket: Mapping[str, Any]) -> datetime | None:
    """Time of the first message after the merchant's last reply (the wait the merchant owes)."""
    replies = [r for r in ticket.get("replies") or [] if isinstance(r, dict)]
    since = None
    for reply in replies:
        if reply.get("sender") == "MERCHANT":
            since = None
        elif since is None:
            since = parse_wish_time(reply.get("replied_at"))
    return since or parse_wish_time(ticket.get("opened_at"))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def ticket_row(store: str, ticket: Mapping[str, Any]) -> dict[str, Any]:
    """One ticket payload as a ``tickets`` row."""
    replies = [r for r in ticket.get("replies") or [] if isinstance(r, dict)]
    order_ids = [str(o.get("id")) for o in ticket.get("orders") or [] if isinstance(o, dict) and o.get("id")]
    resolution = _obj(ticket.get("resolution_info"))
    buyer = _obj(ticket.get("buyer_info"))
    state = str(ticket.get("state") or "UNKNOWN")
    last = replies[-1] if replies else {}
    return {
        "store": store,
        "ticket_id": str(ticket["id"]),
        "state": state,
        "ticket_type": ticket.get("type"),
        "subject": ticket.get("subject"),
        "sub_label": ticket.get("sub_label"),
        "refund_reason": ticket.get("refund_reason"),
        "order_id": order_ids[0] if order_ids else None,
        "order_ids": ",".join(order_ids) or None,
        "buyer_locale": buyer.get("locale"),
        "opened_at": parse_wish_time(ticket.get("opened_at")),
        "updated_at": parse_wish_time(ticket.get("updated_at")) or parse_wish_time(ticket.get("opened_at")),
        "closed_at": parse_wish_time(resolution.get("closed_at"))
        if state in ("CLOSED", "PERMANENTLY_CLOSED")
        else None,
        "closed_by": resolution.get("closed_by") if state in ("CLOSED", "PERMANENTLY_CLOSED") else None,
        "awaiting_merchant_since": _awaiting_since(ticket) if state == "AWAITING_MERCHANT" else None,
        "reply_count": len(replies),
        "last_reply_at": parse_wish_time(last.get("replied_at")),
        "last_reply_sender": last.get("sender"),
        "raw": dict(ticket),
    }


def reply_rows(store: str, ticket: Mapping[str, Any], sent_by_wishflow: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The warehouse rows of ``ticket``'s replies, in order.

    A merchant reply whose message is one of ``sent_by_wishflow`` is marked as ours, so the
    merchant's templated answers can be told from the ones they wrote.
    """
    mine = set(sent_by_wishflow)
    rows = []
    for index, reply in enumerate(r for r in ticket.get("replies") or [] if isinstance(r, dict)):
        files = reply.get("supporting_files")
        rows.append(
            {
                "store": store,
                "ticket_id": str(ticket["id"]),
                "reply_index": index,
                "sender": reply.get("sender"),
                "replied_at": parse_wish_time(reply.get("replied_at")),
                "message": reply.get("message"),
                "supporting_file_count": len(files) if isinstance(files, list) else 0,
                "sent_by_wishflow": reply.get("sender") == "MERCHANT" and reply.get("message") in mine,
            }
        )
    return rows


def record_tickets(
    engine: Engine,
    store: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    loaded_at: datetime,
    cursor: CursorAdvance | None = None,
    sent_by_wishflow: Sequence[str] = (),
) -> tuple[int, int]:
    """Upsert tickets (an older payload never replaces a newer one) and append their replies."""
    valid = [t for t in payloads if isinstance(t, Mapping) and t.get("id")]
    rows = [ticket_row(store, t) for t in valid]
    replies = [r for t in valid for r in reply_rows(store, t, sent_by_wishflow)]
    with engine.begin() as conn:
        inserted, updated = write_changed(
            conn, tickets, ("store", "ticket_id"), rows, loaded_at=loaded_at, newer_than="updated_at"
        )
        if replies:
            # append-only: a reply once recorded is kept (the flag may only turn on)
            existing = {
                (r["ticket_id"], r["reply_index"]): r
                for r in conn.execute(
                    select(
                        ticket_replies.c.ticket_id, ticket_replies.c.reply_index, ticket_replies.c.sent_by_wishflow
                    ).where(
                        ticket_replies.c.store == store,
                        ticket_replies.c.ticket_id.in_(list({r["ticket_id"] for r in replies})),
                    )
                ).mappings()
            }
            fresh = []
            for r in replies:
                old = existing.get((r["ticket_id"], r["reply_index"]))
                if old is None or (r["sent_by_wishflow"] and not old["sent_by_wishflow"]):
                    fresh.append(r)
            write_changed(conn, ticket_replies, ("store", "ticket_id", "reply_index"), fresh, loaded_at=loaded_at)
        if cursor is not None:
            advance_cursor(conn, store, cursor, None, loaded_at)
    return inserted, updated


@dataclass
class TicketSync:
    """What a ticket sync read and recorded, for the flow's result and the digest."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    pages: int = 0
    unresolved: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON-ready values, for the flow's return value and the CLI."""
        return {
            "fetched": self.fetched,
            "inserted": self.inserted,
            "updated": self.updated,
            "pages": self.pages,
            "unresolved": self.unresolved,
        }


def _ticket_recorder(loaded_at: datetime | None) -> sync_engine.RecordPage:
    def record(
        engine: Engine,
        store: str,
        records: list[Any],
        *,
        cursor: CursorAdvance | None,
        run_id: str | None,  # noqa: ARG001 (RecordPage's signature)
    ) -> Outcome:
        inserted, updated = record_tickets(
            engine, store, records, loaded_at=loaded_at or datetime.now(UTC), cursor=cursor
        )
        return {"fetched": len(records), "inserted": inserted, "updated": updated}

    return record


#: Tickets by ``updated_at`` (a saturated instant split by type, then state).
TICKETS = Stream(
    name=TICKETS_STREAM,
    cursor_field="updated_at",
    keyset=lambda client, _engine, _store: tickets_keyset(client),
    record=_ticket_recorder(None),
)


def sync_tickets(
    client: WishApi,
    engine: Engine,
    store: str,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    page_size: int = 500,
    now: datetime | None = None,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
) -> TicketSync:
    """Read every ticket updated in the stream's window and record it, through the sync engine.

    The engine (:mod:`wishflow.sync.engine`) brings Wish's clock, the look-back, the safety lag and the
    cursor, capped at the end and moved with each page in its transaction.
    """
    stream = replace(TICKETS, record=_ticket_recorder(now)) if now is not None else TICKETS
    chunk = sync_engine.sync(
        stream,
        client,
        engine,
        store,
        server_now=server_clock(client),
        lookback=lookback,
        safety_lag=safety_lag,
        page_size=page_size,
    )
    return TicketSync(
        fetched=chunk.count("fetched"),
        inserted=chunk.count("inserted"),
        updated=chunk.count("updated"),
        pages=chunk.pages,
        unresolved=chunk.unresolved,
    )


def awaiting_merchant(engine: Engine, store: str, *, now: datetime) -> list[dict[str, Any]]:
    """Tickets awaiting the merchant, longest wait first, with ``waited_hours``."""
    t = tickets
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(
                    t.c.ticket_id,
                    t.c.order_id,
                    t.c.subject,
                    t.c.refund_reason,
                    t.c.opened_at,
                    t.c.awaiting_merchant_since,
                    t.c.reply_count,
                ).where(t.c.store == store, t.c.state == "AWAITING_MERCHANT")
            ).mappings()
        ]
    for row in rows:
        since = row["awaiting_merchant_since"] or row["opened_at"]
        row["waited_hours"] = round((now - since).total_seconds() / 3600, 1) if since else None
    rows.sort(key=lambda r: -(r["waited_hours"] or 0))
    return rows


# -- templated replies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyPolicy:
    """Templated replies: off unless ``enabled``; ``dry_run`` plans without sending."""

    enabled: bool = False
    dry_run: bool = True
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    max_replies: int = 100


@dataclass
class PlannedReply:
    """A templated reply planned for a ticket, and what became of it once sent (or not)."""

    ticket_id: str
    order_id: str
    reason: str
    message: str
    outcome: str = "planned"  # planned (dry run), sent, skipped, failed
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The planned reply as JSON-ready values, for the dry-run listing and the flow's result."""
        return {
            "ticket_id": self.ticket_id,
            "order_id": self.order_id,
            "reason": self.reason,
            "message": self.message,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def _status_line(delivered_at: datetime | None, first_scan_at: datetime | None) -> str:
    if delivered_at is not None:
        return f"The carrier reports it delivered on {delivered_at:%Y-%m-%d}."
    if first_scan_at is not None:
        return f"The carrier has had it since {first_scan_at:%Y-%m-%d} and it is on its way."
    return "It is waiting for the carrier's first scan."


def plan_replies(engine: Engine, store: str, policy: ReplyPolicy) -> list[PlannedReply]:
    """Templated replies for tickets awaiting the merchant whose reason has a template.

    Only tickets whose order has a tracking number, and only on the merchant's turn (the last word is
    not ours).
    """
    if not policy.enabled:
        return []
    t = tickets
    query = (
        select(
            t.c.ticket_id,
            t.c.order_id,
            t.c.refund_reason,
            t.c.last_reply_sender,
            orders.c.state,
            orders.c.tracking_number,
            orders.c.shipping_provider,
            orders.c.shipped_at,
            orders.c.first_scan_at,
            orders.c.delivered_at,
        )
        .join(orders, (orders.c.store == t.c.store) & (orders.c.order_id == t.c.order_id))
        .where(
            t.c.store == store,
            t.c.state == "AWAITING_MERCHANT",
            t.c.refund_reason.in_(list(policy.templates)),
            orders.c.tracking_number.is_not(None),
        )
        .order_by(t.c.awaiting_merchant_since, t.c.ticket_id)
    )
    plans = []
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            if row["last_reply_sender"] == "MERCHANT":
                continue
            message = policy.templates[row["refund_reason"]].format(
                order_id=row["order_id"],
                tracking_number=row["tracking_number"],
                carrier=row["shipping_provider"] or "the carrier",
                shipped_on=f"{row['shipped_at']:%Y-%m-%d}" if row["shipped_at"] else "(unknown date)",
                status_line=_status_line(row["delivered_at"], row["first_scan_at"]),
            )
            plans.append(PlannedReply(row["ticket_id"], row["order_id"], row["refund_reason"], message[:2000]))
            if len(plans) >= policy.max_replies:
                break
    return plans


def send_replies(
    client: WishApi,
    engine: Engine,
    store: str,
    plans: Sequence[PlannedReply],
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> list[PlannedReply]:
    """Send planned replies (or only report them when ``dry_run``), then record each ticket.

    Each ticket is recorded as Wish now has it. A rejected reply is reported and the others go on;
    transient errors propagate.
    """
    if dry_run:
        for plan in plans:
            plan.outcome = "planned"
        return list(plans)
    loaded_at = now or datetime.now(UTC)
    for plan in plans:
        fresh = get_ticket(client, plan.ticket_id)
        replies = [r for r in fresh.get("replies") or [] if isinstance(r, dict)]
        if fresh.get("state") != "AWAITING_MERCHANT" or (replies and replies[-1].get("sender") == "MERCHANT"):
            plan.outcome, plan.detail = "skipped", f"ticket is {fresh.get('state')} now"
            record_tickets(engine, store, [fresh], loaded_at=loaded_at)
            continue
        try:
            reply_ticket(client, plan.ticket_id, plan.message)
            plan.outcome = "sent"
        except WishUncertainWriteError as exc:
            after = get_ticket(client, plan.ticket_id)
            ours = any(
                r.get("sender") == "MERCHANT" and r.get("message") == plan.message
                for r in after.get("replies") or []
                if isinstance(r, dict)
            )
            plan.outcome = "sent" if ours else "failed"
            plan.detail = f"outcome uncertain ({exc}); read back: {'found' if ours else 'not found'}"
        except WishError as exc:
            if exc.retryable:
                raise
            plan.outcome, plan.detail = "failed", str(exc)
        record_tickets(
            engine,
            store,
            [get_ticket(client, plan.ticket_id)],
            loaded_at=loaded_at,
            sent_by_wishflow=[plan.message] if plan.outcome == "sent" else (),
        )
    return list(plans)
