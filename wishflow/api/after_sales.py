"""After-sales endpoints (tickets, penalties) and the keyset declarations of their lists.

Tickets can be read, updated and replied to, penalties read and counted; ``GET /tickets`` and
``GET /penalties`` are declared for the one paginator (:mod:`wishflow.api.pagination`).

Both lists page on a timestamp only (``updated_at`` for tickets, ``created_at``/``reversed_at`` for
penalties), inclusive at both ends, like orders. Where more records share one instant than a page
holds, the filters Wish's spec offers narrow it (see each declaration and STATUS.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wishflow.api.contract import WishApi
from wishflow.api.errors import WishRetryableError
from wishflow.api.pagination import Fetch, Keyset, Whole, wish_params

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def get_ticket(client: WishApi, ticket_id: str) -> dict[str, Any]:
    """``GET /tickets/{id}``."""
    data = client.request("GET", f"/tickets/{ticket_id}")
    return dict(data or {})


def update_ticket(client: WishApi, ticket_id: str, state: str) -> dict[str, Any]:
    """``PUT /tickets/{id}``: ``CLOSED`` closes, ``AWAITING_MERCHANT`` re-opens, ``AWAITING_WISH`` appeals."""
    data = client.request("PUT", f"/tickets/{ticket_id}", json={"state": state}, write=True)
    return dict(data or {})


def reply_ticket(client: WishApi, ticket_id: str, message: str) -> dict[str, Any]:
    """Reply to ticket ``ticket_id`` with ``message``; returns the ticket as Wish answers it.

    ``POST /tickets/{id}/replies`` (at most 2000 characters; no idempotency key: see
    :mod:`wishflow.aftersales.tickets` for the read-back after an uncertain outcome).
    """
    if len(message) > 2000:
        raise ValueError("a ticket reply is at most 2000 characters")
    data = client.request("POST", f"/tickets/{ticket_id}/replies", json={"message": message}, write=True)
    return dict(data or {})


def get_penalty(client: WishApi, penalty_id: str) -> dict[str, Any]:
    """``GET /penalties/{id}``."""
    data = client.request("GET", f"/penalties/{penalty_id}")
    return dict(data or {})


TICKET_TYPES = ("ORDER", "PRE_PURCHASE", "POST_CUSTOMER_SUPPORT")
TICKET_STATES = ("AWAITING_WISH", "AWAITING_USER", "AWAITING_MERCHANT", "CLOSED", "PERMANENTLY_CLOSED")
PENALTY_KEYS = ("created_at", "reversed_at")


def _list(client: WishApi, path: str) -> Fetch:
    def fetch(**params: Any) -> list[Any]:
        data = client.request("GET", path, params=wish_params(params))
        if not isinstance(data, list):
            raise WishRetryableError(f"GET {path}: data is not a list")
        return data

    return fetch


def tickets_keyset(client: WishApi) -> Keyset:
    """The keyset of ``GET /tickets``: by ``updated_at``, a full instant split by type then state.

    A saturated instant is split by ``types`` then ``states`` (the spec's closed enums of both: every
    ticket has exactly one of each).
    """
    return Keyset(
        time_key="updated_at",
        fetch=_list(client, "/tickets"),
        splits=(("types", TICKET_TYPES), ("states", TICKET_STATES)),
    )


def penalties_keyset(client: WishApi, by: str = "created_at", whole: Whole | None = None) -> Keyset:
    """``GET /penalties`` by ``created_at`` (new) or ``reversed_at`` (reversals).

    ``reversed_at_*`` selects reversed penalties only, so it narrows a saturated ``reversed_at``
    instant by ``created_at`` (every penalty has one) but cannot narrow a ``created_at`` instant; a
    group neither splits goes to ``whole`` (the sync reads it by id, :mod:`wishflow.aftersales.penalties`).
    """
    if by not in PENALTY_KEYS:
        raise ValueError("by must be created_at or reversed_at")
    base = _list(client, "/penalties")
    if by == "reversed_at":

        def fetch(**params: Any) -> list[Any]:
            # reversed_at_min selects reversed penalties only; default to the epoch on a first sync
            if params.get("reversed_at_min") is None:
                params = {**params, "reversed_at_min": EPOCH}
            return base(**params)

        return Keyset(time_key=by, fetch=fetch, tie_key="created_at", whole=whole)
    return Keyset(time_key=by, fetch=base, whole=whole)


def count_penalties(client: WishApi, **filters: Any) -> int | None:
    """``GET /penalties/count`` for these filters (``None`` when the answer has no count)."""
    data = client.request("GET", "/penalties/count", params=wish_params(filters))
    count = data.get("count") if isinstance(data, dict) else None
    return count if isinstance(count, int) else None
