"""After-sales endpoints without a helper on :class:`~wishflow.api.client.WishClient`: tickets
(get, update, reply) and penalties (get), plus keyset paging over ``GET /tickets`` and
``GET /penalties``.

Both lists page on a timestamp only (``updated_at`` for tickets, ``created_at``/``reversed_at`` for
penalties), inclusive at both ends, like orders: the next page starts *at* the last timestamp and
the ids already read at it are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from wishflow.api.contract import WishApi
from wishflow.api.errors import PaginationError
from wishflow.orders.flatten import format_wish_time, parse_wish_time


def _time(value: datetime | None) -> str | None:
    return format_wish_time(value) if value is not None else None


def get_ticket(client: WishApi, ticket_id: str) -> dict[str, Any]:
    """``GET /tickets/{id}``."""
    data = client.request("GET", f"/tickets/{ticket_id}")
    return dict(data or {})


def update_ticket(client: WishApi, ticket_id: str, state: str) -> dict[str, Any]:
    """``PUT /tickets/{id}``: ``CLOSED`` closes, ``AWAITING_MERCHANT`` re-opens, ``AWAITING_WISH`` appeals."""
    data = client.request("PUT", f"/tickets/{ticket_id}", json={"state": state}, write=True)
    return dict(data or {})


def reply_ticket(client: WishApi, ticket_id: str, message: str) -> dict[str, Any]:
    """``POST /tickets/{id}/replies`` (at most 2000 characters; no idempotency key: see
    :mod:`wishflow.aftersales.tickets` for the read-back after an uncertain outcome)."""
    if len(message) > 2000:
        raise ValueError("a ticket reply is at most 2000 characters")
    data = client.request("POST", f"/tickets/{ticket_id}/replies", json={"message": message}, write=True)
    return dict(data or {})


def get_penalty(client: WishApi, penalty_id: str) -> dict[str, Any]:
    """``GET /penalties/{id}``."""
    data = client.request("GET", f"/penalties/{penalty_id}")
    return dict(data or {})


def keyset_pages(
    fetch: Callable[[datetime | None], list[Any]],
    time_key: str,
    *,
    start: datetime | None,
    limit: int,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of records in ascending ``time_key`` from ``start``, without repeats at page edges."""
    lower = start
    seen_at_lower: set[str] = set()
    while True:
        records = [r for r in fetch(lower) if isinstance(r, dict)]
        fresh = [r for r in records if r.get("id") not in seen_at_lower]
        if len(records) < limit:
            yield fresh
            return
        first = parse_wish_time(records[0].get(time_key))
        last = parse_wish_time(records[-1].get(time_key))
        if last is None:
            raise PaginationError(f"a full page has no readable {time_key}; cannot page on")
        if first == last and lower == last:
            raise PaginationError(f"more than {limit} records share {time_key} {format_wish_time(last)}")
        yield fresh
        if last != lower:
            seen_at_lower = set()
        lower = last
        seen_at_lower |= {str(r.get("id")) for r in records if parse_wish_time(r.get(time_key)) == last}


def ticket_pages(
    client: WishApi, *, updated_at_min: datetime | None, updated_at_max: datetime | None = None, limit: int = 500
) -> Iterator[list[dict[str, Any]]]:
    """Every ticket updated in ``[updated_at_min, updated_at_max]``, oldest update first."""

    def fetch(lower: datetime | None) -> list[Any]:
        params = {
            "limit": limit,
            "sort_by": "updated_at.asc",
            "updated_at_min": _time(lower),
            "updated_at_max": _time(updated_at_max),
        }
        return list(client.request("GET", "/tickets", params=params) or [])

    return keyset_pages(fetch, "updated_at", start=updated_at_min, limit=limit)


def penalty_pages(
    client: WishApi,
    *,
    since: datetime | None,
    until: datetime | None = None,
    by: str = "created_at",
    limit: int = 500,
) -> Iterator[list[dict[str, Any]]]:
    """Every penalty created (``by="created_at"``) or reversed (``by="reversed_at"``) in ``[since, until]``."""
    if by not in ("created_at", "reversed_at"):
        raise ValueError("by must be created_at or reversed_at")

    def fetch(lower: datetime | None) -> list[Any]:
        params: dict[str, Any] = {"limit": limit, "sort_by": f"{by}.asc"}
        if by == "reversed_at":
            # reversed_at_min selects reversed penalties only; default to the epoch on a first sync
            params["reversed_at_min"] = _time(lower) or "1970-01-01T00:00:00.000Z"
        else:
            params["created_at_min"] = _time(lower)
        if until is not None:
            params[f"{by}_max"] = _time(until)
        return list(client.request("GET", "/penalties", params=params) or [])

    return keyset_pages(fetch, by, start=since, limit=limit)
