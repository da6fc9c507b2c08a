"""The merchant's blocking bounds: configurable in the shipping policy, applied by validation, and
the planner never puts an order into a package it does not fit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from tests.validation.conftest import NOW, good_order
from wishflow.shipping.batching import plan_shipments
from wishflow.shipping.model import ShipOrder
from wishflow.shipping.packages import DEFAULT_PRESETS, NoPackageFits, SkuInfo, SkuTable, choose_parcel
from wishflow.shipping.policy import PolicyError, ShippingPolicy, default_policy
from wishflow.validation import validate_frame
from wishflow.validation.bounds import ValidationBounds

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _order(oid: str, sku: str, quantity: int, name: str = "Ada") -> ShipOrder:
    return ShipOrder(
        order_id=oid,
        store="s",
        released_at=T0,
        expected_ship_time=T0 + timedelta(days=5),
        sku=sku,
        quantity=quantity,
        order_value=Decimal("20"),
        currency_code="USD",
        country_code="FR",
        is_wish_express=False,
        is_confirmed_delivery=False,
        warehouse_id="WH1",
        recipient_name=name,
        street_address1="12 Rue de Rivoli",
        city="Paris",
        zipcode="75001",
    )


def test_default_bounds_follow_the_largest_package_preset() -> None:
    bounds = default_policy().bounds
    large = DEFAULT_PRESETS["large_box"]
    assert bounds.max_parcel_weight_grams == large.max_weight_grams == 30_000
    assert bounds.max_parcel_side_mm == 500
    assert bounds.max_quantity == 100
    assert bounds.max_unit_price == Decimal("10000")


def test_bounds_are_configurable_per_merchant_and_checked() -> None:
    policy = ShippingPolicy.from_yaml(
        "default: {carrier: YunExpress, origin_country: CN}\nbounds: {max_quantity: 5, max_unit_price: 200}\n"
    )
    assert policy.bounds.max_quantity == 5
    assert policy.bounds.max_unit_price == Decimal("200")
    assert ShippingPolicy.from_mapping(policy.to_mapping()).bounds == policy.bounds
    with pytest.raises(PolicyError, match="unknown bounds"):
        ShippingPolicy.from_yaml("default: {carrier: X, origin_country: CN}\nbounds: {max_qty: 5}\n")
    with pytest.raises(PolicyError, match="positive"):
        ShippingPolicy.from_yaml("default: {carrier: X, origin_country: CN}\nbounds: {max_quantity: 0}\n")

    frame = pd.DataFrame([good_order("six", quantity=6), good_order("pricey", product_price=Decimal("250"))])
    assert validate_frame(frame, NOW).invalid_order_ids == set()
    strict = validate_frame(frame, NOW, policy.bounds)
    assert strict.reasons("six") == ["quantity_within_bound"]
    assert strict.reasons("pricey") == ["product_price_within_bound"]
    assert strict.gx_result["bounds"]["max_quantity"] == 5


def test_no_package_fits_raises_instead_of_the_largest_box() -> None:
    brick = SkuInfo("BRICK", 2500, 200, 100, 60)
    assert choose_parcel([(brick, 10)], DEFAULT_PRESETS).package == "large_box"
    with pytest.raises(NoPackageFits, match="no package fits"):
        choose_parcel([(brick, 1_000_000)], DEFAULT_PRESETS)


def test_the_planner_skips_an_order_no_package_fits_and_splits_a_combined_one() -> None:
    skus = SkuTable([SkuInfo("BRICK", 2500, 200, 100, 60)])
    orders = [
        _order("huge", "BRICK", 1_000_000, name="Bob"),
        _order("a", "BRICK", 8),  # a and b fit alone (20 kg each) but not together (40 kg)
        _order("b", "BRICK", 8),
        _order("fine", "BRICK", 1, name="Cy"),
    ]
    plan = plan_shipments(orders, default_policy(), skus)
    assert set(plan.skipped) == {"huge"}
    assert "no package fits" in plan.skipped["huge"]
    planned = sorted(oid for parcel in plan.parcels for oid in parcel.order_ids)
    assert planned == ["a", "b", "fine"]
    assert all(len(parcel.orders) == 1 for parcel in plan.parcels)
    assert ValidationBounds().max_parcel_weight_grams >= max(p.weight_grams for p in plan.parcels)
