"""The order as shipping sees it: the few warehouse columns that decide carrier, parcel and batch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

_SPACE = re.compile(r"\s+")


def normalise(value: str | None) -> str:
    """Lower case, surrounding space trimmed, inner runs of space collapsed to one."""
    return _SPACE.sub(" ", (value or "").strip()).lower()


@dataclass(frozen=True)
class ShipOrder:
    """An order ready to ship (approved, valid, untracked), from the warehouse's ``orders`` row."""

    order_id: str
    store: str
    released_at: datetime | None
    expected_ship_time: datetime | None
    sku: str | None
    quantity: int
    order_value: Decimal | None
    currency_code: str | None
    country_code: str
    is_wish_express: bool
    is_confirmed_delivery: bool
    warehouse_id: str | None
    recipient_name: str | None
    street_address1: str | None
    street_address2: str | None = None
    street_address3: str | None = None
    city: str | None = None
    province: str | None = None
    zipcode: str | None = None

    def recipient_key(self) -> tuple[str, ...]:
        """Name and address, compared ignoring case and spacing (Wish's combined-shipment rule)."""
        return tuple(
            normalise(v)
            for v in (
                self.recipient_name,
                self.street_address1,
                self.street_address2,
                self.street_address3,
                self.city,
                self.province,
                self.zipcode,
                self.country_code,
            )
        )

    @property
    def wish_order_type(self) -> str:
        """Wish's order type, which decides the carriers Wish accepts for the order."""
        return "CONFIRMED_DELIVERY" if self.is_confirmed_delivery else "GENERAL"

    @classmethod
    def from_row(cls, row: Any) -> ShipOrder:
        """Build from a warehouse row (or mapping); the value falls back to price times quantity."""
        m = row._mapping if hasattr(row, "_mapping") else row
        value = m.get("payment_total")
        if value is None and m.get("product_price") is not None:
            value = Decimal(m["product_price"]) * (m.get("quantity") or 1)
        return cls(
            order_id=m["order_id"],
            store=m["store"],
            released_at=m.get("released_at"),
            expected_ship_time=m.get("expected_ship_time"),
            sku=m.get("sku"),
            quantity=int(m.get("quantity") or 1),
            order_value=Decimal(value) if value is not None else None,
            currency_code=m.get("currency_code"),
            country_code=(m.get("country_code") or "").upper(),
            is_wish_express=bool(m.get("is_wish_express")),
            is_confirmed_delivery=bool(m.get("is_confirmed_delivery")),
            warehouse_id=m.get("warehouse_id"),
            recipient_name=m.get("recipient_name"),
            street_address1=m.get("street_address1"),
            street_address2=m.get("street_address2"),
            street_address3=m.get("street_address3"),
            city=m.get("city"),
            province=m.get("province"),
            zipcode=m.get("zipcode"),
        )
