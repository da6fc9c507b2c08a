"""Flatten Wish order payloads into the warehouse's ``orders`` columns.

The flattening is tolerant by design: a missing nested object gives ``None`` columns, never an
exception, because deciding whether an order is fit to ship is validation's job (it needs to *see*
the gap to quarantine the order with a reason). Timestamps are normalised to aware UTC datetimes
and money to :class:`~decimal.Decimal`, the warehouse's exact types.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from wishflow.orders.parse import ParsedOrder

#: The ``orders`` columns filled from a payload, in table order (``store`` and ``_loaded_at`` are
#: added by the loader).
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "transaction_id",
    "state",
    "released_at",
    "updated_at",
    "expected_ship_time",
    "expected_delivery_time",
    "product_id",
    "product_name",
    "variation_id",
    "sku",
    "color",
    "size",
    "quantity",
    "product_price",
    "shipping_price",
    "payment_total",
    "currency_code",
    "recipient_name",
    "street_address1",
    "street_address2",
    "street_address3",
    "city",
    "province",
    "zipcode",
    "country_code",
    "phone_number",
    "phone_country_code",
    "order_types",
    "is_wish_express",
    "is_confirmed_delivery",
    "warehouse_id",
    "tracking_number",
    "shipping_provider",
    "origin_country",
    "processing_source",
    "processing_status",
    "shipped_at",
    "first_scan_at",
    "delivered_at",
    "tracking_cancelled_at",
    "refunded_at",
    "raw",
)

#: Milestones of ``fulfillment_records`` mapped to the timestamp column that keeps their latest time.
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


def _money(obj: Any) -> tuple[Decimal | None, str | None]:
    if not isinstance(obj, dict):
        return None, None
    amount = obj.get("amount")
    currency = obj.get("currency_code")
    try:
        value = None if amount is None else Decimal(str(amount))
    except (InvalidOperation, ValueError):
        value = None
    if value is not None and not value.is_finite():
        value = None
    return value, currency if isinstance(currency, str) else None


def _dict(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "") if "\x00" in text else text  # databases cannot store NUL


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


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


def flatten_order(order: ParsedOrder) -> tuple[Any, ...]:
    """One order payload as a tuple in :data:`ORDER_COLUMNS` order."""
    p = order.payload
    product = _dict(p, "product_information")
    payment = _dict(_dict(p, "order_payment"), "general_payment_details")
    address = _dict(_dict(p, "full_address"), "shipping_detail")
    phone = _dict(address, "phone_number")
    requirements = _dict(p, "fulfillment_requirements")
    warehouse = _dict(p, "warehouse_information")
    price, currency = _money(payment.get("product_price"))
    shipping_price, shipping_currency = _money(payment.get("product_shipping_price"))
    total, total_currency = _money(payment.get("payment_total"))
    raw_types = p.get("fulfillment_order_types")
    types = [t for t in raw_types if isinstance(t, str)] if isinstance(raw_types, list) else []
    tracking_list = p.get("tracking_information")
    tracking = tracking_list[0] if isinstance(tracking_list, list) and tracking_list else {}
    if not isinstance(tracking, dict):
        tracking = {}
    provider = tracking.get("shipping_provider")
    provider_name = provider.get("name") if isinstance(provider, dict) else provider
    latest: dict[str, datetime] = {}
    for event_type, event_time in milestones(p):
        column = MILESTONE_COLUMNS.get(event_type)
        if column:
            latest[column] = event_time
    refunds = p.get("refunds")
    refunded_at = None
    if isinstance(refunds, list):
        times = [parse_wish_time(r.get("refund_time")) for r in refunds if isinstance(r, dict)]
        known = [t for t in times if t is not None]
        refunded_at = max(known) if known else None
    core = order.core
    return (
        core.id,
        _str(p, "transaction_id"),
        core.state.value,
        parse_wish_time(p.get("released_at")),
        core.updated_at.astimezone(UTC),
        parse_wish_time(requirements.get("expected_ship_time")),
        parse_wish_time(requirements.get("expected_delivery_time")),
        _str(product, "id"),
        _str(product, "name"),
        _str(product, "variation_id"),
        _str(product, "sku"),
        _str(product, "color"),
        _str(product, "size"),
        _int(payment.get("product_quantity")),
        price,
        shipping_price,
        total,
        currency or shipping_currency or total_currency,
        _str(address, "name"),
        _str(address, "street_address1"),
        _str(address, "street_address2"),
        _str(address, "street_address3"),
        _str(address, "city"),
        _str(address, "state"),
        _str(address, "zipcode"),
        _str(address, "country_code"),
        _str(phone, "number"),
        _str(phone, "country_code"),
        ",".join(types),
        "WISH_EXPRESS" in types,
        "CONFIRMED_DELIVERY_POLICY" in types,
        _str(warehouse, "warehouse_id"),
        _str(tracking, "tracking_number"),
        provider_name if isinstance(provider_name, str) else None,
        _str(tracking, "origin_country"),
        _str(p, "processing_source"),
        _str(p, "processing_status"),
        latest.get("shipped_at"),
        latest.get("first_scan_at"),
        latest.get("delivered_at"),
        latest.get("tracking_cancelled_at"),
        refunded_at,
        _raw_json(p),
    )


def _raw_json(payload: dict[str, Any]) -> str:
    """The payload as JSON text; a NUL escape (which PostgreSQL's jsonb rejects) becomes U+FFFD."""
    text = orjson.dumps(payload).decode()
    return text.replace("\\u0000", "\\ufffd") if "\\u0000" in text else text


def flatten_orders(orders: Iterable[ParsedOrder]) -> list[tuple[Any, ...]]:
    """Flatten a batch of orders; see :func:`flatten_order`."""
    return [flatten_order(o) for o in orders]
