"""``WishApi``: the one contract every consumer of the Wish API codes against.

:class:`wishflow.api.client.WishClient` is the implementation; tests may hand any object with the
same members (a fake of a few methods is fine where mypy does not check it). Consumers take a
``WishApi`` instead of each spelling the few methods it happens to call in a Protocol of its own, so
a change to the client's surface is made, and checked by mypy, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from wishflow.api.client import WishClient


class WishApi(Protocol):
    """The Wish merchant API v3 as Wishflow uses it.

    Raw payloads in, typed errors out (:mod:`wishflow.api.errors`).
    """

    #: ``Wish-Rate-Limit-Remaining`` of the last answer (None before the first)
    rate_limit_remaining: int | None
    #: how long after a write is sent it may still land at Wish (writes are asynchronous there)
    write_settle_seconds: float

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        write: bool = False,
        idempotent: bool | None = None,
    ) -> Any:
        """One call; the envelope's ``data``."""
        ...

    def server_now(self) -> datetime:
        """Wish's clock (deadlines and windows are Wish's)."""
        ...

    def test_token(self) -> Any:
        """``GET /oauth/test``: who the token belongs to."""
        ...

    def list_orders(
        self,
        *,
        limit: int = 500,
        updated_at_min: datetime | str | None = None,
        updated_at_max: datetime | str | None = None,
        released_at_min: datetime | str | None = None,
        released_at_max: datetime | str | None = None,
        states: Sequence[str] | None = None,
        sort_by: str = "updated_at.asc",
        typed: bool = False,
    ) -> list[Any]:
        """One page of ``GET /orders`` (``typed``: as :class:`~wishflow.orders.records.OrderRecord` s)."""
        ...

    def download_orders(
        self,
        *,
        updated_at_min: datetime | str | None = None,
        updated_at_max: datetime | str | None = None,
        released_at_min: datetime | str | None = None,
        released_at_max: datetime | str | None = None,
        states: Sequence[str] | None = None,
        poll_seconds: float = 1.0,
        max_wait: float = 900.0,
    ) -> list[Any]:
        """Every matching order, through Wish's batch download job."""
        ...

    def get_order(self, order_id: str) -> dict[str, Any]:
        """``GET /orders/{id}`` (:class:`~wishflow.api.errors.WishNotFound` for an unknown id)."""
        ...

    def shipping_carriers(self, order_type: str = "GENERAL", dest_country_code: str | None = None) -> list[str]:
        """The carriers Wish accepts."""
        ...

    def ship_order(
        self,
        order_id: str,
        *,
        tracking_number: str,
        shipping_provider: str,
        origin_country: str,
        ship_note: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /orders/{id}/tracking`` (a write: never resent blindly)."""
        ...

    def modify_address(self, order_id: str, address: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /orders/{id}/address`` (a write)."""
        ...

    def refund_reasons(self, order_id: str) -> list[str]:
        """The refund reasons the order offers now."""
        ...

    def refund_order(self, order_id: str, reason: str, note: str | None = None) -> dict[str, Any]:
        """``PUT /orders/{id}/refund`` (a write)."""
        ...


def _conforms(client: WishClient) -> WishApi:
    """Never called: mypy checks here that the client keeps the contract."""
    return client
