"""What decoding each page straight into typed records would save the pull's Python (issue 20).

Today the pull turns a page into rows in three steps, each in Python objects: ``orjson`` builds a
dict for every object of every record (most of a 2 KB payload's cost is making those dicts and
strings), pydantic checks each record's core (``parse_orders``), and ``flatten_order`` walks the
dicts again, value by value, to fill the row (and ``prepare_orders`` reads the milestones once more).
This measures a route that never builds the dicts: ``msgspec`` splits the page into each record's
bytes (``msgspec.Raw``) and decodes each record into typed structs holding only the fields the row
needs (unknown fields are skipped in C), with the types the careful route expects; the row is then
read off the structs. A record that does not decode (a value of another type, a NUL, money in
several currencies, a core field missing) takes today's route, record by record, so only the
regular records are fast and every irregular one is judged exactly as today.

It checks first that both routes give the same rows and milestones for every order of the sandbox's
data profiles (the payload text compared as JSON: the typed route keeps the record's own bytes,
where today's re-serialises the dict; a ``jsonb`` column stores both alike), then times them
alternately on the same pages: CPU microseconds per order, page bytes to rows and milestones.

    python -m bench.bench_typed_decode --orders 20000 --rounds 5

The route is not built into the pull: the pages' records are dicts all the way through the pull
today (the keyset's last record, the stored-version probe and set-aside, the future-date flags, the
quarantine's payload), so building it means giving those a record type of their own (bench/PROFILE.md).
``msgspec`` is installed with the benchmarks' extra only.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import orjson

from wishflow.orders.flatten import MILESTONE_COLUMNS, flatten_order, milestones, parse_wish_time
from wishflow.orders.parse import ORDER_ID_PATTERN, OrderState, ParsedOrder, parse_order, parse_orders

Row = tuple[Any, ...]
Milestones = list[tuple[str, datetime]]


class _Money(msgspec.Struct):
    amount: int | float | None = None
    currency_code: str | None = None


class _Payment(msgspec.Struct):
    product_price: _Money | None = None
    product_shipping_price: _Money | None = None
    payment_total: _Money | None = None
    product_quantity: int | None = None


class _OrderPayment(msgspec.Struct):
    general_payment_details: _Payment | None = None


class _Phone(msgspec.Struct):
    number: str | None = None
    country_code: str | None = None


class _Shipping(msgspec.Struct):
    name: str | None = None
    street_address1: str | None = None
    street_address2: str | None = None
    street_address3: str | None = None
    city: str | None = None
    state: str | None = None
    zipcode: str | None = None
    country_code: str | None = None
    phone_number: _Phone | None = None


class _Address(msgspec.Struct):
    shipping_detail: _Shipping | None = None


class _Product(msgspec.Struct):
    id: str | None = None
    name: str | None = None
    variation_id: str | None = None
    sku: str | None = None
    color: str | None = None
    size: str | None = None


class _Requirements(msgspec.Struct):
    expected_ship_time: str | None = None
    expected_delivery_time: str | None = None


class _Warehouse(msgspec.Struct):
    warehouse_id: str | None = None


class _Provider(msgspec.Struct):
    name: str | None = None


class _Tracking(msgspec.Struct):
    tracking_number: str | None = None
    shipping_provider: _Provider | str | None = None
    origin_country: str | None = None


class _Milestone(msgspec.Struct):
    event_type: str | None = None
    event_time: str | None = None


class _Refund(msgspec.Struct):
    refund_time: str | None = None


class _Order(msgspec.Struct):
    """The fields of Wish's ``Order`` (OpenAPI) that the ``orders`` row reads, with the types the row takes."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=ORDER_ID_PATTERN)]
    state: OrderState
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


class _Irregular(Exception):
    """A record the typed route does not take: today's route judges it."""


_PAGE = msgspec.json.Decoder(list[msgspec.Raw])
_ORDER = msgspec.json.Decoder(_Order)
_PRODUCT, _PAYMENT, _SHIPPING = _Product(), _Payment(), _Shipping()
_PHONE, _REQUIREMENTS, _WAREHOUSE = _Phone(), _Requirements(), _Warehouse()


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_wish_time(value)
    if parsed is None:
        raise _Irregular
    return parsed


def _money(money: _Money | None) -> tuple[Decimal | None, str | None]:
    if money is None:
        return None, None
    amount = money.amount
    if amount is None:
        return None, money.currency_code
    if type(amount) is float and not math.isfinite(amount):
        raise _Irregular
    return Decimal(str(amount)), money.currency_code


def _typed_row(raw: bytes) -> tuple[Row, Milestones]:
    """The row and milestones of one well-typed record's bytes; :class:`_Irregular` otherwise."""
    if b"\\u0000" in raw:
        raise _Irregular
    try:
        o = _ORDER.decode(raw)
    except msgspec.ValidationError:
        raise _Irregular from None
    updated_at = parse_wish_time(o.updated_at)
    if updated_at is None or datetime.fromisoformat(o.updated_at).tzinfo is None:
        raise _Irregular
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
        raise _Irregular
    types = o.fulfillment_order_types or []
    tracking = o.tracking_information[0] if o.tracking_information else None
    provider = tracking.shipping_provider if tracking else None
    provider_name = provider.name if isinstance(provider, _Provider) else provider
    pairs: Milestones = []
    for record in o.fulfillment_records or ():
        event_time = parse_wish_time(record.event_time)
        if record.event_type is not None and event_time is not None:
            pairs.append((record.event_type, event_time))
    pairs.sort(key=lambda pair: pair[1])
    latest: dict[str, datetime] = {}
    for event_type, event_time in pairs:
        column = MILESTONE_COLUMNS.get(event_type)
        if column:
            latest[column] = event_time
    refund_times = [t for t in (parse_wish_time(r.refund_time) for r in o.refunds or ()) if t is not None]
    row = (
        o.id,
        o.transaction_id,
        o.state.value,
        _time(o.released_at),
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
        latest.get("shipped_at"),
        latest.get("first_scan_at"),
        latest.get("delivered_at"),
        latest.get("tracking_cancelled_at"),
        max(refund_times) if refund_times else None,
        None,
        raw.decode(),
    )
    return row, pairs


def typed_route(page: bytes) -> tuple[list[Row], list[Milestones], int]:
    """Rows and milestones of a page's records, typed where they are regular; how many took today's route."""
    rows: list[Row] = []
    stones: list[Milestones] = []
    irregular = 0
    for raw in _PAGE.decode(page):
        record = bytes(raw)
        try:
            row, pairs = _typed_row(record)
        except _Irregular:
            irregular += 1
            parsed = parse_order(orjson.loads(record))
            if not isinstance(parsed, ParsedOrder):
                continue  # a record today's route rejects: not a row
            row, pairs = flatten_order(parsed), milestones(parsed.payload)
        rows.append(row)
        stones.append(pairs)
    return rows, stones, irregular


def todays_route(page: bytes) -> tuple[list[Row], list[Milestones], int]:
    """Rows and milestones as the pull makes them today (``parse_orders``, ``flatten_order``, ``milestones``)."""
    parsed, _ = parse_orders(orjson.loads(page))
    return [flatten_order(o) for o in parsed], [milestones(o.payload) for o in parsed], 0


def _same(a: Row, b: Row) -> bool:
    return a[:-1] == b[:-1] and orjson.loads(a[-1]) == orjson.loads(b[-1])


def _pages(raws: list[bytes], size: int = 500) -> list[bytes]:
    return [b"[" + b",".join(raws[i : i + size]) + b"]" for i in range(0, len(raws), size)]


#: Values of another type (or shape) than Wish's, each put into copies of the sandbox's orders: the
#: typed route must hand each such record to today's route, which names the problem or rejects it.
MUTATIONS: tuple[tuple[str, Any], ...] = (
    ("transaction_id", 5),
    ("id", ""),
    ("state", "LOST"),
    ("updated_at", "2026-01-01T00:00:00"),
    ("released_at", "yesterday"),
    ("product_information", "lamp"),
    ("product_information.sku", ["A"]),
    ("full_address.shipping_detail.city", {"a": 1}),
    ("full_address.shipping_detail.city", "Ly\u0000on"),
    ("order_payment.general_payment_details.product_quantity", 2.0),
    ("order_payment.general_payment_details.product_quantity", True),
    ("order_payment.general_payment_details.product_price.amount", "3"),
    ("order_payment.general_payment_details.product_price.currency_code", "XXX"),
    ("fulfillment_requirements.expected_ship_time", 1700000000),
    ("fulfillment_order_types", ["WISH_EXPRESS", 3]),
    ("tracking_information", [{"tracking_number": 7}]),
    ("tracking_information", ["x"]),
    ("tracking_information", [{"shipping_provider": {"name": 3}}]),
    ("fulfillment_records", [{"event_type": 1, "event_time": "x"}]),
    ("refunds", [{"refund_time": 5}]),
)


def _mutated(raw: bytes, path: str, value: Any) -> bytes:
    record = orjson.loads(raw)
    *parents, key = path.split(".")
    node = record
    for name in parents:
        node = node.setdefault(name, {}) if isinstance(node.get(name), dict | None) else {}
    node[key] = value
    return orjson.dumps(record)


def check(orders: int) -> dict[str, int]:
    """Both routes on the sandbox's orders per data profile and on mutated copies: orders compared, irregular ones."""
    from bench.prerendered import snapshot
    from wishflow.sandbox.config import SandboxConfig
    from wishflow.sandbox.core import Sandbox
    from wishflow.sandbox.programs import DATA_PROFILES

    seen = {"orders": 0, "irregular": 0}
    for profile in (None, *DATA_PROFILES):
        snap = snapshot(Sandbox(SandboxConfig(seed=5, orders=orders, data_profile=profile)))
        mutated = [_mutated(raw, *MUTATIONS[i % len(MUTATIONS)]) for i, raw in enumerate(snap.raws[:200])]
        for page in [*_pages(snap.raws), *_pages(mutated, 50)]:
            want_rows, want_stones, _ = todays_route(page)
            rows, stones, irregular = typed_route(page)
            assert len(rows) == len(want_rows), profile  # the same records rejected
            for got, want in zip(rows, want_rows, strict=True):
                assert _same(got, want), (profile, got, want)
            assert stones == want_stones, profile
            seen["orders"] += len(rows)
            seen["irregular"] += irregular
    return seen


def _time_route(fn: Callable[[bytes], Any], pages: list[bytes], orders: int) -> float:
    started = time.process_time()
    for page in pages:
        fn(page)
    return (time.process_time() - started) / orders * 1e6


def main() -> int:
    """Check the routes agree, then print each one's CPU microseconds per order, alternated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check-orders", type=int, default=2_000, help="orders per data profile compared")
    args = parser.parse_args()
    seen = check(args.check_orders)
    print(f"same rows and milestones for {seen['orders']:,} orders ({seen['irregular']} took today's route)")

    from bench.prerendered import generate

    pages = _pages(generate(args.orders, 11).raws)
    times: dict[str, list[float]] = {"today": [], "typed": []}
    for _ in range(args.rounds):
        times["today"].append(_time_route(todays_route, pages, args.orders))
        times["typed"].append(_time_route(typed_route, pages, args.orders))
    for name, values in times.items():
        values.sort()
        print(
            f"{name:>5}: {values[len(values) // 2]:.1f} us of CPU per order (median of {len(values)}; "
            f"min {values[0]:.1f}, max {values[-1]:.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
