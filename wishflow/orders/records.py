"""Order records kept as the bytes Wish sent, decoded straight into the fields the warehouse reads.

Turning a page of 500 orders into Python dicts was the largest part of the pull's CPU per order
(a 2 KB payload is about 20 objects and 60 strings; building them cost more than reading them), and
most of the pull never needs them: the keyset, the stored-version probe and the loader read a few
fields of each record. So the pull's pages are split into each record's bytes, and each record is
decoded by ``msgspec`` into typed structs holding only what the ``orders`` row and the pagination
read (unknown fields are skipped, in C). The row is then read off the structs
(:func:`wishflow.orders.flatten.flatten_order`'s row exactly: tests/orders compare the two on every
data profile of the sandbox and on records with values of every wrong type).

A record that does not decode this way (a value of another type than Wish's specification gives it,
a required field missing, a NUL, money in several currencies) is not judged here: its dict is made
on first use (:attr:`OrderRecord.payload`) and it takes the careful route (``parse_order``,
``flatten_order``), which names each problem or rejects the record. So only regular records are
fast, and every irregular one is handled exactly as before. bench/PROFILE.md (stop 28) has the
figures: page bytes to a prepared batch 128.6 -> 83.7 us of CPU per order; the library pull 0.91x ->
1.01x the plain loader in the same run.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import orjson

from wishflow.orders.flatten import milestone_times, parse_wish_time
from wishflow.orders.rules import ORDER_ID_PATTERN, OrderState

Row = tuple[Any, ...]
Milestones = list[tuple[str, datetime]]

_STATES = frozenset(state.value for state in OrderState)


class _Money(msgspec.Struct, gc=False):
    amount: int | float | None = None
    currency_code: str | None = None


class _Payment(msgspec.Struct, gc=False):
    product_price: _Money | None = None
    product_shipping_price: _Money | None = None
    payment_total: _Money | None = None
    product_quantity: int | None = None


class _OrderPayment(msgspec.Struct, gc=False):
    general_payment_details: _Payment | None = None


class _Phone(msgspec.Struct, gc=False):
    number: str | None = None
    country_code: str | None = None


class _Shipping(msgspec.Struct, gc=False):
    name: str | None = None
    street_address1: str | None = None
    street_address2: str | None = None
    street_address3: str | None = None
    city: str | None = None
    state: str | None = None
    zipcode: str | None = None
    country_code: str | None = None
    phone_number: _Phone | None = None


class _Address(msgspec.Struct, gc=False):
    shipping_detail: _Shipping | None = None


class _Product(msgspec.Struct, gc=False):
    id: str | None = None
    name: str | None = None
    variation_id: str | None = None
    sku: str | None = None
    color: str | None = None
    size: str | None = None


class _Requirements(msgspec.Struct, gc=False):
    expected_ship_time: str | None = None
    expected_delivery_time: str | None = None


class _Warehouse(msgspec.Struct, gc=False):
    warehouse_id: str | None = None


class _Provider(msgspec.Struct, gc=False):
    name: str | None = None


class _Tracking(msgspec.Struct, gc=False):
    tracking_number: str | None = None
    shipping_provider: _Provider | str | None = None
    origin_country: str | None = None


class _Milestone(msgspec.Struct, gc=False):
    event_type: str | None = None
    event_time: str | None = None


class _Refund(msgspec.Struct, gc=False):
    refund_time: str | None = None


class WishOrder(msgspec.Struct, gc=False):
    """The fields of Wish's ``Order`` (OpenAPI) that Wishflow reads, with the types the row takes."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=ORDER_ID_PATTERN)]
    state: str
    updated_at: str
    released_at: str | None = None
    transaction_id: str | None = None
    product_information: _Product | None = None
    order_payment: _OrderPayment | None = None
    full_address: _Address | None = None
    fulfillment_requirements: _Requirements | None = None
    warehouse_information: _Warehouse | None = None
    fulfillment_order_types: list[str] | None = None
    tracking_information: list[_Tracking] | None = None
    fulfillment_records: list[_Milestone] | None = None
    refunds: list[_Refund] | None = None
    processing_source: str | None = None
    processing_status: str | None = None


# The structs hold only texts, numbers and lists of structs (no cycles), so they are kept out of the
# cyclic collector (``gc=False``): tracked, a page's thousands of structs made the young-generation
# collections walk the pages in flight again and again (24-31 against 8-10 us per order decoded).
_PAGE = msgspec.json.Decoder(list[msgspec.Raw])
_ORDER = msgspec.json.Decoder(WishOrder)
#: the fields :meth:`OrderRecord.get` answers from the typed order (pagination and the probe read them)
_HEAD = frozenset({"id", "state", "updated_at", "released_at"})


class OrderRecord:
    """One order record of a page: its bytes, its typed order when it is regular, its dict on demand.

    ``get`` answers like the record's dict would (the keyset and the stored-version probe read
    ``id``, ``updated_at`` and ``released_at`` this way), without making the dict for a regular record.
    """

    __slots__ = ("_payload", "order", "raw")

    def __init__(self, raw: bytes, order: WishOrder | None) -> None:
        self.raw = raw
        #: the typed order, or None when the record is irregular (see the module's docstring)
        self.order = order
        self._payload: Any = None

    @property
    def payload(self) -> Any:
        """The record as Python values (made once, on first use: irregular records, quarantine, flags)."""
        if self._payload is None:
            self._payload = orjson.loads(self.raw)
        return self._payload

    def get(self, key: str, default: Any = None) -> Any:
        """The record's value under ``key``, as its dict's ``get`` gives it."""
        if self.order is not None and key in _HEAD:
            value = getattr(self.order, key)
            return default if value is None else value
        payload = self.payload
        return payload.get(key, default) if isinstance(payload, dict) else default

    def __repr__(self) -> str:
        return f"OrderRecord({self.raw[:80]!r}{'...' if len(self.raw) > 80 else ''})"


def payload_of(record: Any) -> Any:
    """A record as Python values, whether it came as an :class:`OrderRecord` or a dict."""
    return record.payload if isinstance(record, OrderRecord) else record


def order_records(data: bytes) -> list[OrderRecord]:
    """A JSON array of order records (a list page's ``data``) as :class:`OrderRecord` s.

    Raises ``msgspec.ValidationError`` when ``data`` is not an array and ``msgspec.DecodeError``
    when it is not JSON (the client turns both into its own errors).
    """
    return [_record(bytes(raw)) for raw in _PAGE.decode(data)]


def _record(raw: bytes) -> OrderRecord:
    if b"\\u0000" in raw:  # a NUL: the careful route strips it from texts and the payload's text
        return OrderRecord(raw, None)
    try:
        order = _ORDER.decode(raw)
    except msgspec.ValidationError:
        return OrderRecord(raw, None)
    if order.state not in _STATES:
        return OrderRecord(raw, None)
    return OrderRecord(raw, order)


class Irregular(Exception):
    """A value the typed route does not take: the careful route says what is wrong."""


_PRODUCT, _PAYMENT, _SHIPPING = _Product(), _Payment(), _Shipping()
_PHONE, _REQUIREMENTS, _WAREHOUSE = _Phone(), _Requirements(), _Warehouse()


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_wish_time(value)
    if parsed is None:
        raise Irregular
    return parsed


def _money(money: _Money | None) -> tuple[Decimal | None, str | None]:
    if money is None:
        return None, None
    amount = money.amount
    if amount is None:
        return None, money.currency_code
    if type(amount) is float and not math.isfinite(amount):
        raise Irregular
    return Decimal(str(amount)), money.currency_code


#: The times the typed route reads itself: Wish's format, with its zone. Both ``fromisoformat`` and the
#: careful route's pydantic model read these alike; any other form (a number, no zone, a date alone,
#: more than six decimals) takes the careful route, which decides what pydantic decides.
_WISH_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")


def _core_time(value: str) -> datetime:
    if not _WISH_TIME.fullmatch(value):
        raise Irregular
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise Irregular from None


def typed_row(record: OrderRecord) -> tuple[Row, Milestones]:
    """``flatten_order``'s row and ``milestones`` of a regular record; :class:`Irregular` otherwise.

    The row's ``order_id``, ``state``, ``released_at`` and ``updated_at`` are what the careful route's
    pydantic core holds (``parse.OrderCore``), checked the same way.
    """
    o = record.order
    if o is None:
        raise Irregular
    updated_at = _core_time(o.updated_at)
    released_at = None if o.released_at is None else _core_time(o.released_at)
    product = o.product_information or _PRODUCT
    payment = (o.order_payment.general_payment_details if o.order_payment else None) or _PAYMENT
    address = (o.full_address.shipping_detail if o.full_address else None) or _SHIPPING
    phone = address.phone_number or _PHONE
    requirements = o.fulfillment_requirements or _REQUIREMENTS
    warehouse = o.warehouse_information or _WAREHOUSE
    price, currency = _money(payment.product_price)
    shipping_price, shipping_currency = _money(payment.product_shipping_price)
    total, total_currency = _money(payment.payment_total)
    if len({c for c in (currency, shipping_currency, total_currency) if c}) > 1:
        raise Irregular  # one currency column beside three amounts: the careful route names the mix
    types = o.fulfillment_order_types or []
    tracking = o.tracking_information[0] if o.tracking_information else None
    provider = tracking.shipping_provider if tracking else None
    provider_name = provider.name if isinstance(provider, _Provider) else provider
    pairs: Milestones = []
    for milestone in o.fulfillment_records or ():
        event_time = parse_wish_time(milestone.event_time)
        if milestone.event_type is not None and event_time is not None:
            pairs.append((milestone.event_type, event_time))
    pairs.sort(key=lambda pair: pair[1])
    refund_times = [t for t in (parse_wish_time(r.refund_time) for r in o.refunds or ()) if t is not None]
    row = (
        o.id,
        o.transaction_id,
        o.state,
        released_at,
        updated_at,
        _time(requirements.expected_ship_time),
        _time(requirements.expected_delivery_time),
        product.id,
        product.name,
        product.variation_id,
        product.sku,
        product.color,
        product.size,
        payment.product_quantity,
        price,
        shipping_price,
        total,
        currency or shipping_currency or total_currency,
        address.name,
        address.street_address1,
        address.street_address2,
        address.street_address3,
        address.city,
        address.state,
        address.zipcode,
        address.country_code,
        phone.number,
        phone.country_code,
        ",".join(types),
        "WISH_EXPRESS" in types,
        "CONFIRMED_DELIVERY_POLICY" in types,
        warehouse.warehouse_id,
        tracking.tracking_number if tracking else None,
        provider_name,
        tracking.origin_country if tracking else None,
        o.processing_source,
        o.processing_status,
        *milestone_times(pairs),
        max(refund_times) if refund_times else None,
        None,
        record.raw.decode(),
    )
    return row, pairs
