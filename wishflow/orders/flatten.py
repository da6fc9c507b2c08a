"""Flatten Wish order payloads into the warehouse's ``orders`` columns.

The flattening is tolerant by design: a missing nested object gives ``None`` columns, never an
exception, because deciding whether an order is fit to ship is validation's job (it needs to *see*
the gap to quarantine the order with a reason). Timestamps are normalised to aware UTC datetimes
and money to :class:`~decimal.Decimal`, the warehouse's exact types.

Types are never coerced: a text field that arrives as an object, list, number or boolean, a number
that arrives as text (``"3"``), a money object that is not an object, or a timestamp that is not an
ISO text leaves its column empty and is named in ``input_problems`` (``"city: object {...}"``), which
the blocking rule ``field_types_valid`` quarantines. ``str()`` of a JSON object is not a city: the
order is held, and the payload stays in ``raw`` for the merchant to read. A number sent as text is
refused deliberately too: Wish's specification types quantities and amounts as numbers, so text
there means the sender is not the API we think it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from wishflow.warehouse.schema import ORDER_PAYLOAD_COLUMNS

if TYPE_CHECKING:  # parse imports the typed route, which reads this module's helpers
    from wishflow.orders.parse import ParsedOrder

#: The ``orders`` columns filled from a payload, in table order (``store``, the run ids and
#: ``_loaded_at`` are added by the loader): derived from the table, so :func:`flatten_order` must
#: return its values in exactly this order (tests/orders check the length and the names' positions).
ORDER_COLUMNS: tuple[str, ...] = ORDER_PAYLOAD_COLUMNS

#: Milestones of ``fulfillment_records`` mapped to the timestamp column that keeps their latest time.
#: In the table's column order: :func:`milestone_times` fills the row by position (tests/warehouse check it).
MILESTONE_COLUMNS = {
    "MARK_SHIPPED": "shipped_at",
    "CONFIRM_FULFILLED": "first_scan_at",
    "CONFIRMED_DELIVERED": "delivered_at",
    "TRACKING_CANCELLED": "tracking_cancelled_at",
}


def parse_wish_time(value: Any) -> datetime | None:
    """Parse Wish's ``YYYY-MM-DDTHH:mm:ss.sss(Z|±hh:mm)`` into an aware UTC datetime (None if absent)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_wish_time(value: datetime) -> str:
    """Format an aware datetime the way Wish does, with milliseconds and ``Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


#: Longest sample of a wrongly typed value kept in ``input_problems``.
_SAMPLE_MAX = 60


def _kind(value: Any) -> str:
    """The JSON type of ``value`` as people say it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _sample(value: Any) -> str:
    try:
        text = orjson.dumps(value, default=str).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= _SAMPLE_MAX else text[: _SAMPLE_MAX - 1] + "…"


class _Reader:
    """Reads typed values out of a payload and notes every value of the wrong type."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def wrong(self, column: str, value: Any, expected: str) -> None:
        self.problems.append(f"{column}: {_kind(value)} {_sample(value)} (expected {expected})")

    def obj(self, obj: Any, key: str) -> dict[str, Any]:
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.wrong(key, value, "object")
            return {}
        return value

    def text(self, obj: dict[str, Any], key: str, column: str | None = None) -> str | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.wrong(column or key, value, "text")
            return None
        return value.replace("\x00", "") if "\x00" in value else value  # databases cannot store NUL

    def integer(self, value: Any, column: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        self.wrong(column, value, "a whole number")
        return None

    def money(self, obj: Any, column: str) -> tuple[Decimal | None, str | None]:
        if obj is None:
            return None, None
        if not isinstance(obj, dict):
            self.wrong(column, obj, "an object with amount and currency_code")
            return None, None
        amount = obj.get("amount")
        currency = self.text(obj, "currency_code", "currency_code")
        value: Decimal | None = None
        if amount is not None:
            if isinstance(amount, (int, float)) and not isinstance(amount, bool):
                try:
                    value = Decimal(str(amount))
                except (InvalidOperation, ValueError):
                    value = None
                if value is not None and not value.is_finite():
                    value = None
                    self.wrong(column, amount, "a finite number")
            else:
                self.wrong(column, amount, "a number")
        return value, currency

    def time(self, value: Any, column: str) -> datetime | None:
        if value is None:
            return None
        parsed = parse_wish_time(value)
        if parsed is None:
            self.wrong(column, value, "an ISO 8601 time")
        return parsed

    def joined(self) -> str | None:
        return "; ".join(self.problems) if self.problems else None


def milestones(payload: dict[str, Any]) -> list[tuple[str, datetime]]:
    """The ``fulfillment_records`` of an order as ``(event_type, event_time)`` pairs, oldest first."""
    records = payload.get("fulfillment_records")
    out: list[tuple[str, datetime]] = []
    if not isinstance(records, list):
        return out
    for record in records:
        if not isinstance(record, dict):
            continue
        event_type = record.get("event_type")
        event_time = parse_wish_time(record.get("event_time"))
        if isinstance(event_type, str) and event_time is not None:
            out.append((event_type, event_time))
    out.sort(key=lambda pair: pair[1])
    return out


def milestone_times(pairs: list[tuple[str, datetime]]) -> tuple[datetime | None, ...]:
    """The latest time of each milestone column, in :data:`MILESTONE_COLUMNS` order (``pairs`` oldest first)."""
    latest: dict[str, datetime] = {}
    for event_type, event_time in pairs:
        column = MILESTONE_COLUMNS.get(event_type)
        if column:
            latest[column] = event_time
    return tuple(latest.get(column) for column in MILESTONE_COLUMNS.values())


def flatten_order(order: ParsedOrder) -> tuple[Any, ...]:
    """One order payload as a tuple in :data:`ORDER_COLUMNS` order (made already on the typed route)."""
    if order.row is not None:
        return order.row
    p = order.payload
    r = _Reader()
    product = r.obj(p, "product_information")
    payment = r.obj(r.obj(p, "order_payment"), "general_payment_details")
    address = r.obj(r.obj(p, "full_address"), "shipping_detail")
    phone = r.obj(address, "phone_number")
    requirements = r.obj(p, "fulfillment_requirements")
    warehouse = r.obj(p, "warehouse_information")
    price, currency = r.money(payment.get("product_price"), "product_price")
    shipping_price, shipping_currency = r.money(payment.get("product_shipping_price"), "shipping_price")
    total, total_currency = r.money(payment.get("payment_total"), "payment_total")
    currencies = sorted({c for c in (currency, shipping_currency, total_currency) if c})
    if len(currencies) > 1:  # one currency_code column stands beside the three amounts: never mix them
        r.problems.append(f"currency_code: the order's money is in several currencies ({', '.join(currencies)})")
    raw_types = p.get("fulfillment_order_types")
    types = [t for t in raw_types if isinstance(t, str)] if isinstance(raw_types, list) else []
    tracking_list = p.get("tracking_information")
    tracking = tracking_list[0] if isinstance(tracking_list, list) and tracking_list else {}
    if not isinstance(tracking, dict):
        tracking = {}
    provider = tracking.get("shipping_provider")
    provider_name = provider.get("name") if isinstance(provider, dict) else provider
    latest = milestone_times(milestones(p))
    refunds = p.get("refunds")
    refunded_at = None
    if isinstance(refunds, list):
        times = [parse_wish_time(x.get("refund_time")) for x in refunds if isinstance(x, dict)]
        known = [t for t in times if t is not None]
        refunded_at = max(known) if known else None
    core = order.core
    row = (
        core.id,
        r.text(p, "transaction_id"),
        core.state.value,
        r.time(p.get("released_at"), "released_at"),
        core.updated_at.astimezone(UTC),
        r.time(requirements.get("expected_ship_time"), "expected_ship_time"),
        r.time(requirements.get("expected_delivery_time"), "expected_delivery_time"),
        r.text(product, "id", "product_id"),
        r.text(product, "name", "product_name"),
        r.text(product, "variation_id"),
        r.text(product, "sku"),
        r.text(product, "color"),
        r.text(product, "size"),
        r.integer(payment.get("product_quantity"), "quantity"),
        price,
        shipping_price,
        total,
        currency or shipping_currency or total_currency,
        r.text(address, "name", "recipient_name"),
        r.text(address, "street_address1"),
        r.text(address, "street_address2"),
        r.text(address, "street_address3"),
        r.text(address, "city"),
        r.text(address, "state", "province"),
        r.text(address, "zipcode"),
        r.text(address, "country_code"),
        r.text(phone, "number", "phone_number"),
        r.text(phone, "country_code", "phone_country_code"),
        ",".join(types),
        "WISH_EXPRESS" in types,
        "CONFIRMED_DELIVERY_POLICY" in types,
        r.text(warehouse, "warehouse_id"),
        r.text(tracking, "tracking_number"),
        provider_name if isinstance(provider_name, str) else None,
        r.text(tracking, "origin_country"),
        r.text(p, "processing_source"),
        r.text(p, "processing_status"),
        *latest,
        refunded_at,
    )
    return (*row, r.joined(), _raw_json(p))


def _raw_json(payload: dict[str, Any]) -> str:
    """The payload as JSON text; a NUL escape (which PostgreSQL's jsonb rejects) becomes U+FFFD."""
    text = orjson.dumps(payload).decode()
    return text.replace("\\u0000", "\\ufffd") if "\\u0000" in text else text


def flatten_orders(orders: Iterable[ParsedOrder]) -> list[tuple[Any, ...]]:
    """Flatten a batch of orders; see :func:`flatten_order`."""
    return [flatten_order(o) for o in orders]
