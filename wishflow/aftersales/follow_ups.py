"""Follow-ups: what the merchant must act on, opened and resolved from the warehouse's current state.

Sources: tickets awaiting the merchant, open tracking exceptions (a cancelled tracking number means
*ship again*), and new penalties to review (dispute window). Each run computes the set that should be
open; rows missing from the table are opened, open rows no longer in the set are resolved with the
reason. Keys come from the source (ticket wait start, exception open time, penalty time), so a rerun
writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from wishflow.warehouse.aftersales_schema import follow_ups, penalties, tickets
from wishflow.warehouse.tracking_schema import tracking_exceptions

DEFAULT_TICKET_RESPONSE = timedelta(hours=48)
DEFAULT_PENALTY_REVIEW = timedelta(days=14)

#: follow-up kind for each tracking exception type
EXCEPTION_KINDS = {
    "TRACKING_CANCELLED": "RESHIP",
    "FIRST_SCAN_LATE": "FIRST_SCAN_LATE",
    "NO_MOVEMENT": "NO_MOVEMENT",
    "CONFIRMED_DELIVERY_LATE": "CONFIRMED_DELIVERY_LATE",
    "WISH_EXPRESS_LATE": "WISH_EXPRESS_LATE",
}


@dataclass
class FollowUpResult:
    """The follow-ups a run opened, resolved or updated, as rows for the digest."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    #: Open follow-ups whose text or due time changed with their source (e.g. at risk -> missed).
    updated: list[dict[str, Any]] = field(default_factory=list)
    open_count: int = 0
    #: Tickets awaiting the merchant, longest wait first (filled by the follow-up stage's task).
    awaiting_merchant: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready values (datetimes as ISO strings), for the flow and the CLI."""

        def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows]

        return {
            "opened": clean(self.opened),
            "resolved": clean(self.resolved),
            "updated": clean(self.updated),
            "open": self.open_count,
            **({"awaiting_merchant": clean(self.awaiting_merchant)} if self.awaiting_merchant else {}),
        }


def _desired(
    conn: Any, store: str, now: datetime, ticket_response: timedelta, penalty_review: timedelta
) -> dict[tuple[str, str, datetime], dict[str, Any]]:
    out: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    for row in conn.execute(
        select(
            tickets.c.ticket_id,
            tickets.c.order_id,
            tickets.c.subject,
            tickets.c.refund_reason,
            tickets.c.opened_at,
            tickets.c.awaiting_merchant_since,
        ).where(tickets.c.store == store, tickets.c.state == "AWAITING_MERCHANT")
    ).mappings():
        since = row["awaiting_merchant_since"] or row["opened_at"] or now
        out[("TICKET_AWAITING_MERCHANT", row["ticket_id"], since)] = {
            "order_id": row["order_id"],
            "due_at": since + ticket_response,
            "summary": f"Answer the customer's ticket '{row['subject'] or ''}' "
            f"({row['refund_reason'] or 'no reason'}) on order {row['order_id']}.",
        }
    t = tracking_exceptions
    for row in conn.execute(select(t).where(t.c.store == store, t.c.resolved_at.is_(None))).mappings():
        kind = EXCEPTION_KINDS.get(row["exception_type"], row["exception_type"])
        out[(kind, f"{row['order_id']}:{row['tracking_number']}", row["opened_at"])] = {
            "order_id": row["order_id"],
            "due_at": row["deadline_at"],
            "summary": ("Ship again with a new tracking number. " if kind == "RESHIP" else "")
            + f"Order {row['order_id']} ({row['severity']}): {row['details']}",
        }
    p = penalties
    for row in conn.execute(
        select(
            p.c.penalty_id, p.c.order_id, p.c.penalty_reason, p.c.penalty_amount, p.c.currency_code, p.c.created_at
        ).where(p.c.store == store, p.c.reversed.is_(False), p.c.created_at > now - penalty_review)
    ).mappings():
        out[("PENALTY_REVIEW", row["penalty_id"], row["created_at"])] = {
            "order_id": row["order_id"],
            "due_at": row["created_at"] + penalty_review,
            "summary": f"Review penalty {row['penalty_reason']} of {row['penalty_amount']} {row['currency_code'] or ''}"
            + (f" on order {row['order_id']}" if row["order_id"] else "")
            + " (dispute if unjustified).",
        }
    return out


def _resolution(conn: Any, store: str, kind: str, entity_id: str) -> str:
    if kind == "TICKET_AWAITING_MERCHANT":
        state = conn.execute(
            select(tickets.c.state).where(tickets.c.store == store, tickets.c.ticket_id == entity_id)
        ).scalar_one_or_none()
        return f"ticket {str(state or 'gone').lower()}"
    if kind == "PENALTY_REVIEW":
        reversed_ = conn.execute(
            select(penalties.c.reversed).where(penalties.c.store == store, penalties.c.penalty_id == entity_id)
        ).scalar_one_or_none()
        return "penalty reversed" if reversed_ else "review window over"
    order_id, _, number = entity_id.partition(":")
    t = tracking_exceptions
    resolution = conn.execute(
        select(t.c.resolution)
        .where(
            t.c.store == store, t.c.order_id == order_id, t.c.tracking_number == number, t.c.resolved_at.is_not(None)
        )
        .order_by(t.c.resolved_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return str(resolution or "cleared")


def update_follow_ups(
    engine: Engine,
    store: str,
    *,
    now: datetime,
    ticket_response: timedelta = DEFAULT_TICKET_RESPONSE,
    penalty_review: timedelta = DEFAULT_PENALTY_REVIEW,
    loaded_at: datetime | None = None,
) -> FollowUpResult:
    """Open what needs acting on, resolve what no longer does (one transaction)."""
    loaded_at = loaded_at or datetime.now(UTC)
    result = FollowUpResult()
    f = follow_ups
    with engine.begin() as conn:
        desired = _desired(conn, store, now, ticket_response, penalty_review)
        open_rows = {
            (r["kind"], r["entity_id"], r["opened_at"]): dict(r)
            for r in conn.execute(select(f).where(f.c.store == store, f.c.resolved_at.is_(None))).mappings()
        }
        known_keys = set(open_rows)
        if desired:
            # rows already resolved must not be re-opened by the same key
            known_keys |= {
                (r.kind, r.entity_id, r.opened_at)
                for r in conn.execute(
                    select(f.c.kind, f.c.entity_id, f.c.opened_at).where(
                        f.c.store == store,
                        f.c.resolved_at.is_not(None),
                        f.c.entity_id.in_(list({k[1] for k in desired})),
                    )
                )
            }
        new_rows = []
        for key, values in desired.items():
            if key in known_keys:
                continue
            kind, entity_id, opened_at = key
            row = {
                "store": store,
                "kind": kind,
                "entity_id": entity_id,
                "opened_at": opened_at,
                "order_id": values["order_id"],
                "due_at": values["due_at"],
                "summary": values["summary"],
                "resolved_at": None,
                "resolution": None,
                "_loaded_at": loaded_at,
            }
            new_rows.append(row)
            result.opened.append({k: v for k, v in row.items() if k not in ("store", "_loaded_at")})
        if new_rows:
            conn.execute(f.insert(), new_rows)
        for key, row in open_rows.items():
            if key in desired:
                # the text follows the source: a tracking exception that was at risk and whose
                # deadline has passed now says "missed", not "(at_risk) ... due by"
                values = desired[key]
                if (row["summary"], row["due_at"]) != (values["summary"], values["due_at"]):
                    kind, entity_id, opened_at = key
                    conn.execute(
                        update(f)
                        .where(
                            f.c.store == store, f.c.kind == kind, f.c.entity_id == entity_id, f.c.opened_at == opened_at
                        )
                        .values(summary=values["summary"], due_at=values["due_at"], _loaded_at=loaded_at)
                    )
                    result.updated.append({"kind": kind, "entity_id": entity_id, "summary": values["summary"]})
                continue
            kind, entity_id, opened_at = key
            resolution = _resolution(conn, store, kind, entity_id)
            conn.execute(
                update(f)
                .where(f.c.store == store, f.c.kind == kind, f.c.entity_id == entity_id, f.c.opened_at == opened_at)
                .values(resolved_at=now, resolution=resolution, _loaded_at=loaded_at)
            )
            result.resolved.append(
                {"kind": kind, "entity_id": entity_id, "order_id": row["order_id"], "resolution": resolution}
            )
        result.open_count = len(open_rows) - len(result.resolved) + len(new_rows)
    return result


def open_follow_ups(engine: Engine, store: str) -> list[dict[str, Any]]:
    """Open follow-ups, soonest due first."""
    f = follow_ups
    with engine.connect() as conn:
        rows = [
            dict(r) for r in conn.execute(select(f).where(f.c.store == store, f.c.resolved_at.is_(None))).mappings()
        ]
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (r["due_at"] or far, r["kind"], r["entity_id"]))
    return rows
