"""What an order record must be to be recorded at all: a key fit to store, a state Wish lists.

One place for both routes that read records (``parse``'s pydantic core for any payload,
``records``' typed structs for a page's regular ones), so they cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum

#: An order id fit to be a key: no control characters (Wish's ids are 24 hex digits).
ORDER_ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"


class OrderState(StrEnum):
    """An order's state as Wish reports it (``Order.state`` in the OpenAPI spec)."""

    APPROVED = "APPROVED"
    SHIPPED = "SHIPPED"
    REFUNDED = "REFUNDED"
    REQUIRE_REVIEW = "REQUIRE_REVIEW"
    DECLINED = "DECLINED"
