"""Upper bounds that make an order absurd rather than unusual: past one of them, the order is held.

The warning suite flags what is merely unusual (more than 20 units, a unit price above 1,000); the
bounds here are *blocking*: a quantity of a million, a unit price of 10^12, a 100,000-character
street or a parcel no package holds is a data error, and shipping it would cost real money. Each
bound has a default a merchant would accept and is configurable per merchant in the shipping policy
(``bounds:``, see :class:`wishflow.shipping.policy.ShippingPolicy`). The parcel bounds default to the
merchant's largest package preset, so "no package fits" is caught at validation, before planning.

The suites read the bounds as GX suite parameters, so one suite serves every merchant and each run
passes its own bounds (:meth:`ValidationBounds.parameters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

#: Text columns with a blocking length bound, and the bound (field of :class:`ValidationBounds`).
LENGTH_BOUNDS: dict[str, str] = {
    "recipient_name": "max_address_line_length",
    "street_address1": "max_address_line_length",
    "street_address2": "max_address_line_length",
    "street_address3": "max_address_line_length",
    "city": "max_address_line_length",
    "province": "max_address_line_length",
    "zipcode": "max_zipcode_length",
    "phone_number": "max_phone_length",
    "sku": "max_sku_length",
}

#: Money columns with a blocking upper bound, and the bound.
MONEY_BOUNDS: dict[str, str] = {
    "product_price": "max_unit_price",
    "shipping_price": "max_shipping_price",
    "payment_total": "max_order_total",
}

#: Wish opened to merchants in 2011: a release before this is a broken clock, not an old order.
EARLIEST_RELEASE = datetime(2011, 1, 1, tzinfo=UTC)


class BoundsError(ValueError):
    """A bounds section that cannot be used (unknown key, not a positive number)."""


@dataclass(frozen=True)
class ValidationBounds:
    """Blocking upper bounds of one merchant's orders (money in the order's currency)."""

    #: Units in one order.
    max_quantity: int = 100
    #: Unit price.
    max_unit_price: Decimal = Decimal("10000")
    #: Shipping price per unit.
    max_shipping_price: Decimal = Decimal("1000")
    #: What Wish pays for the order.
    max_order_total: Decimal = Decimal("50000")
    #: Recipient name, street lines, city, province (labels print about 35; longer is garbage).
    max_address_line_length: int = 200
    max_zipcode_length: int = 16
    max_phone_length: int = 32
    max_sku_length: int = 100
    #: The parcel (quantity x unit weight from the SKU table, 250 g a unit if unknown); defaults to
    #: the largest default package preset's weight limit, volume (at its fill factor) and side.
    max_parcel_weight_grams: int = 30_000
    max_parcel_side_mm: int = 500
    max_parcel_volume_ml: int = 51_000
    #: Days from release to the ship-by deadline (Wish gives 5; more than this is a broken clock).
    max_ship_window_days: int = 30

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value <= 0:
                raise BoundsError(f"bounds.{f.name} must be a positive number, not {value!r}")

    @classmethod
    def for_presets(cls, presets: Mapping[str, Any]) -> ValidationBounds:
        """The defaults, with the parcel bounds of the largest of these package presets."""
        from wishflow.shipping.packages import FILL_FACTOR

        if not presets:
            return cls()
        largest = max(presets.values(), key=lambda p: (p.volume_mm3, p.max_weight_grams or 0))
        default = cls()
        return replace(
            default,
            max_parcel_weight_grams=(largest.max_weight_grams or default.max_parcel_weight_grams),
            max_parcel_side_mm=max(largest.length_mm, largest.width_mm, largest.height_mm),
            max_parcel_volume_ml=max(1, int(largest.volume_mm3 * FILL_FACTOR / 1000)),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, base: ValidationBounds | None = None) -> ValidationBounds:
        """``base`` (else the defaults) with the keys of ``data`` changed; unknown keys are errors."""
        base = base or cls()
        if not data:
            return base
        if not isinstance(data, Mapping):
            raise BoundsError("bounds must be a mapping of bound name to number")
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise BoundsError(f"unknown bounds {sorted(unknown)} (known: {sorted(known)})")
        changes: dict[str, Any] = {}
        for name, value in data.items():
            current = getattr(base, name)
            try:
                if isinstance(value, bool):
                    raise ValueError
                changes[name] = Decimal(str(value)) if isinstance(current, Decimal) else int(value)
            except (TypeError, ValueError, InvalidOperation):
                raise BoundsError(f"bounds.{name} must be a number, not {value!r}") from None
        return replace(base, **changes)

    def to_mapping(self) -> dict[str, Any]:
        """The bounds by field name, decimals as strings (exact in JSON and in the run's parameters)."""
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Decimal) else v) for f in fields(self)}

    def parameters(self) -> dict[str, Any]:
        """The bounds as GX suite parameters (numbers as floats, the ship window in hours)."""
        out: dict[str, Any] = {f"b_{name}": float(v) for name, v in self.to_mapping().items() if name}
        out["b_max_ship_window_hours"] = float(self.max_ship_window_days * 24)
        return out
