"""Thirty kinds of bad orders created in the sandbox, pulled over HTTP like production, then
validated: every one is quarantined with its reason and the good ones are ready to ship.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from bad_orders import BAD_KINDS
from pydantic import SecretStr

from tests.validation.conftest import good_order
from wishflow.validation import quarantined_orders, ready_to_ship_order_ids, validate_pending

#: Kinds the API cannot carry (the sandbox and the parser refuse them before validation can).
NOT_EXPRESSIBLE = {"unknown_state", "missing_release", "released_in_future", "missing_currency"}
#: Kinds about the SKU table or a typed field, which the flattened-row form cannot say over the API
#: (test_sandbox_absurd_orders.py sends wrongly typed JSON itself).
NOT_EXPRESSIBLE |= {"wrongly_typed_field", "parcel_too_heavy", "item_too_long"}

_ADDRESS = {
    "recipient_name": "name",
    "street_address1": "street_address1",
    "street_address2": "street_address2",
    "street_address3": "street_address3",
    "city": "city",
    "province": "state",
    "zipcode": "zipcode",
    "country_code": "country_code",
}
_MONEY = {
    "product_price": "product_price",
    "shipping_price": "product_shipping_price",
    "payment_total": "payment_total",
}


def _wish_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _amount(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def wish_partial(row: dict[str, Any]) -> dict[str, Any]:
    """The Wish order JSON (partial, merged over a generated order) that flattens to ``row``."""
    currency = row["currency_code"]
    payment = {"product_quantity": row["quantity"]}
    for column, key in _MONEY.items():
        payment[key] = {"amount": _amount(row[column]), "currency_code": currency}
    address = {key: row[column] for column, key in _ADDRESS.items()}
    address["phone_number"] = {"number": row["phone_number"], "country_code": "1"}
    return {
        "released_at": _wish_time(row["released_at"]),
        "fulfillment_requirements": {
            "expected_ship_time": _wish_time(row["expected_ship_time"]) if row["expected_ship_time"] else None
        },
        "product_information": {"sku": row["sku"]},
        "order_payment": {"general_payment_details": payment},
        "full_address": {"shipping_detail": address},
    }


def test_bad_orders_from_the_sandbox_are_quarantined_with_their_reason(sandbox, engine: sa.Engine) -> None:
    from wishflow.api.factory import client_from_settings
    from wishflow.config import WishSettings
    from wishflow.pull import plan_window, pull_chunk

    kinds = {k: v for k, v in BAD_KINDS.items() if k not in NOT_EXPRESSIBLE}
    assert len(kinds) >= 30
    partials = [wish_partial(good_order(kind, **changes)) for kind, (changes, _) in kinds.items()]
    partials += [wish_partial(good_order(f"good-{i}", sku=f"GOOD-{i}")) for i in range(5)]
    response = httpx.post(f"{sandbox.base_url}/sandbox/orders", json={"orders": partials}, timeout=30)
    response.raise_for_status()
    body = response.json()
    ids = body.get("data", body).get("ids") or body.get("data", body).get("order_ids")
    assert ids
    assert len(ids) == len(partials)
    expected = dict(zip(ids[: len(kinds)], [rule for _, rule in kinds.values()], strict=True))
    good_ids = set(ids[len(kinds) :])

    settings = WishSettings(api_base_url=sandbox.api_url, access_token=SecretStr(sandbox.access_token))
    with client_from_settings(settings) as client:
        window = plan_window(engine, "default", now=datetime.now(UTC) + timedelta(minutes=1))
        position = None
        while True:
            chunk = pull_chunk(client, engine, "default", window, position)
            position = chunk.next_position
            if position is None:
                break
    validate_pending(engine, "default", "sandbox-run", now=datetime.now(UTC))

    reasons = {r["order_id"]: r["reasons"] for r in quarantined_orders(engine, "default")}
    assert reasons == expected
    assert set(ready_to_ship_order_ids(engine, "default")) == good_ids
