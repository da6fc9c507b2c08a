"""Policy rules (first match wins, default, YAML, carrier check), packages, combined-shipment edges,
batching, and tracking-number checks: pure library tests, no server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest

from wishflow.shipping import (
    CarrierCheck,
    CarrierNotAccepted,
    LabelError,
    ManualLabels,
    PolicyError,
    ShipOrder,
    ShippingPolicy,
    SkuTable,
    TableLabels,
    assign_numbers,
    can_share_tracking,
    check_tracking_number,
    combine_orders,
    plan_shipments,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

POLICY = """
default: {carrier: YunExpress, service: standard, origin_country: CN}
rules:
  - name: express-us
    when: {countries: [US], wish_express: true}
    then: {carrier: USPS, service: priority, origin_country: US}
  - name: heavy-eu
    when: {regions: [EU], min_weight_grams: 2000}
    then: {carrier: DHL, service: parcel, package: large_box}
  - name: cdp
    when: {confirmed_delivery: true}
    then: {carrier: UPS}
  - name: fragile
    when: {tags: [fragile]}
    then: {carrier: FedEx, package: medium_box}
  - name: pricey
    when: {min_order_value: 100}
    then: {service: tracked}
  - name: second-warehouse
    when: {warehouses: [WH2]}
    then: {origin_country: DE}
presets:
  tiny: {length_mm: 100, width_mm: 80, height_mm: 10, tare_grams: 5, max_weight_grams: 100}
"""

SKUS = (
    "sku,weight_grams,length_mm,width_mm,height_mm,tags\nMUG,400,120,100,100,fragile;kitchen\nBRICK,2500,200,100,60,\n"
)


def order(oid: str = "o1", **kw) -> ShipOrder:
    base = dict(
        order_id=oid,
        store="s",
        released_at=T0,
        expected_ship_time=T0 + timedelta(days=5),
        sku="TSHIRT",
        quantity=1,
        order_value=Decimal("20"),
        currency_code="USD",
        country_code="FR",
        is_wish_express=False,
        is_confirmed_delivery=False,
        warehouse_id="WH1",
        recipient_name="Ada Lovelace",
        street_address1="12 Rue de Rivoli",
        city="Paris",
        zipcode="75001",
    )
    base.update(kw)
    return ShipOrder(**base)


@pytest.fixture
def policy() -> ShippingPolicy:
    return ShippingPolicy.from_yaml(POLICY)


@pytest.fixture
def skus() -> SkuTable:
    return SkuTable.from_csv(StringIO(SKUS))


def resolve(policy: ShippingPolicy, skus: SkuTable, o: ShipOrder):
    info = skus.get(o.sku)
    return policy.resolve(o, info.weight_grams * o.quantity, info.tags)


def test_first_matching_rule_wins_else_default(policy, skus) -> None:
    assert resolve(policy, skus, order()).rule == "default"
    d = resolve(policy, skus, order(country_code="US", is_wish_express=True, is_confirmed_delivery=True))
    assert (d.rule, d.carrier, d.service, d.origin_country) == ("express-us", "USPS", "priority", "US")
    d = resolve(policy, skus, order(country_code="US", is_confirmed_delivery=True))
    assert (d.rule, d.carrier, d.origin_country) == ("cdp", "UPS", "CN")  # origin from the default


def test_criteria_weight_region_tag_value_and_warehouse(policy, skus) -> None:
    assert resolve(policy, skus, order(sku="BRICK")).rule == "heavy-eu"  # 2500 g to FR (EU)
    assert resolve(policy, skus, order(sku="BRICK", country_code="GB")).rule == "default"  # GB not in EU
    assert resolve(policy, skus, order(sku="MUG", quantity=5)).rule == "heavy-eu"  # 2000 g exactly
    assert resolve(policy, skus, order(sku="MUG")).rule == "fragile"
    assert resolve(policy, skus, order(order_value=Decimal("100"))).service == "tracked"
    assert resolve(policy, skus, order(warehouse_id="WH2")).origin_country == "DE"


def test_yaml_round_trip_and_clear_errors(policy) -> None:
    again = ShippingPolicy.from_yaml(policy.to_yaml())
    assert again.to_mapping() == policy.to_mapping()
    with pytest.raises(PolicyError, match="unknown criteria"):
        ShippingPolicy.from_yaml("default: {carrier: X, origin_country: CN}\nrules: [{when: {colour: red}}]")
    with pytest.raises(PolicyError, match="unknown region"):
        ShippingPolicy.from_yaml("default: {carrier: X, origin_country: CN}\nrules: [{when: {regions: [MARS]}}]")
    with pytest.raises(PolicyError, match="default must name"):
        ShippingPolicy.from_yaml("default: {service: x}")
    with pytest.raises(PolicyError, match="unknown package"):
        ShippingPolicy.from_yaml("default: {carrier: X, origin_country: CN, package: crate}")


def test_carrier_check_is_cached_and_rejects_before_planning(policy, skus) -> None:
    calls = []

    def fetch(order_type, dest):
        calls.append((order_type, dest))
        general = ["YunExpress", "DHL", "UPS", "FedEx", "Yanwen"]
        return general if order_type == "GENERAL" else ["DHL", "UPS"]

    check = CarrierCheck(fetch)
    orders = [order(f"o{i}", is_confirmed_delivery=i % 2 == 0, country_code="US") for i in range(10)]
    plan = plan_shipments(orders, policy, skus, carriers=check, combine=False)
    assert plan.order_count == 10
    assert sorted(set(calls)) == [("CONFIRMED_DELIVERY", "US"), ("GENERAL", None)]  # cached per run
    with pytest.raises(CarrierNotAccepted, match="'Yanwen'.*CONFIRMED_DELIVERY orders to US") as err:
        plan_shipments(orders, policy, skus, carriers=check, carrier="Yanwen")
    assert len(err.value.problems[0].order_ids) == 5
    with pytest.raises(CarrierNotAccepted, match="nosuchpost"):
        plan_shipments(orders[:1], policy, skus, carriers=check, carrier="nosuchpost")
    # case-insensitive names come back in Wish's spelling
    assert plan_shipments(orders[1:2], policy, skus, carriers=check, carrier="yunexpress").batches[0].carrier == (
        "YunExpress"
    )


def test_packages_from_skus_and_presets(policy, skus) -> None:
    plan = plan_shipments([order(sku="MUG", quantity=3, country_code="GB")], policy, skus)
    parcel = plan.parcels[0]
    assert parcel.package == "medium_box"
    assert parcel.weight_grams == 3 * 400 + 250
    plan = plan_shipments([order(sku="UNKNOWN")], policy, skus, package="tiny")
    assert plan.parcels[0].package == "tiny"
    assert plan.parcels[0].estimated_weight
    with pytest.raises(PolicyError):
        plan_shipments([order()], policy, skus, package="crate")


# -- combined shipments ---------------------------------------------------------------------------


def test_combined_shipment_edges() -> None:
    a = order("a")
    assert can_share_tracking(a, order("b", released_at=T0 + timedelta(days=5)))  # exactly 5 days: allowed
    assert not can_share_tracking(a, order("b", released_at=T0 + timedelta(days=5, milliseconds=1)))
    messy = order("b", recipient_name="  ada   LOVELACE ", street_address1="12 rue  de RIVOLI", city="PARIS ")
    assert can_share_tracking(a, messy)  # case and spacing ignored
    assert not can_share_tracking(a, order("b", zipcode="75002"))
    assert not can_share_tracking(a, order("b", released_at=None))


def test_combination_is_pairwise_across_a_chain() -> None:
    # day 0, 3, 6: 0-3 and 3-6 are within 5 days but 0-6 is not: never one parcel of three
    chain = [order(f"c{d}", released_at=T0 + timedelta(days=d)) for d in (0, 3, 6)]
    groups = combine_orders(chain)
    assert sorted(len(g) for g in groups) == [1, 2]
    for group in groups:
        assert all(can_share_tracking(x, y) for x in group for y in group)


def test_combined_orders_share_one_number_and_batches_follow_deadlines(policy, skus) -> None:
    orders = [
        order("late", expected_ship_time=T0 + timedelta(days=9), recipient_name="Other"),
        order("x1", expected_ship_time=T0 + timedelta(days=3)),
        order("x2", released_at=T0 + timedelta(days=1), expected_ship_time=T0 + timedelta(days=4)),
        *[order(f"n{i}", recipient_name=f"N{i}", expected_ship_time=T0 + timedelta(days=6)) for i in range(5)],
    ]
    plan = plan_shipments(orders, policy, skus, max_batch_size=3)
    combined = [p for p in plan.parcels if len(p.orders) == 2]
    assert [sorted(p.order_ids) for p in combined] == [["x1", "x2"]]
    assert all(b.order_count <= 3 for b in plan.batches)
    firsts = [b.parcels[0].order_ids[0] for b in plan.batches]
    assert firsts[0] == "x1"
    assert plan.batches[-1].parcels[-1].order_ids == ["late"]
    # x1 and x2 given different numbers by hand: refused, never half-combined
    with pytest.raises(LabelError, match="different numbers"):
        ManualLabels({"x1": "YT0000000000000001", "x2": "YT0000000000000002"}).numbers(combined)
    numbers = {o.order_id: f"YT{i + 9:016d}" for i, o in enumerate(orders)}
    numbers.update(x1="YT0000000000000001", x2="YT0000000000000001")
    assert assign_numbers(plan.parcels, ManualLabels(numbers)) == {}
    assert combined[0].tracking_number == "YT0000000000000001"


# -- labels ---------------------------------------------------------------------------------------


def test_tracking_number_checks() -> None:
    assert check_tracking_number(" YT1234567890123456 ", "YunExpress") == "YT1234567890123456"
    assert check_tracking_number("1Z999AA10123456784", "ups") == "1Z999AA10123456784"
    assert check_tracking_number("ABC123", "SomeLocalPost") == "ABC123"  # unknown carrier: alnum only
    for bad, carrier in [("YT-1234", None), ("", None), ("YT 123", None), ("ÄB123", None), ("12345", "UPS")]:
        with pytest.raises(LabelError):
            check_tracking_number(bad, carrier)


def test_label_providers_and_assignment(policy, skus) -> None:
    plan = plan_shipments([order("a", recipient_name="A"), order("b", recipient_name="B")], policy, skus)
    table = TableLabels.from_csv(StringIO("order_id,tracking_number,carrier\na,YT1111222233334444,YunExpress\n"))
    problems = assign_numbers(plan.parcels, table, require_all=False)
    assert set(problems) == {"b"}
    by_order = {p.order_ids[0]: p.tracking_number for p in plan.parcels}
    assert by_order == {"a": "YT1111222233334444", "b": None}
    with pytest.raises(LabelError, match="DHL label"):
        TableLabels([{"order_id": "a", "tracking_number": "1234567890", "carrier": "DHL"}]).numbers(plan.parcels)
    dup = ManualLabels({"a": "YT1111222233334444", "b": "YT1111222233334444"})
    problems = assign_numbers(plan.parcels, dup, require_all=False)
    assert "already used by another parcel" in problems["b"]
    with pytest.raises(LabelError, match="format"):
        assign_numbers(plan.parcels, ManualLabels({"a": "1234", "b": "YT1111222233335555"}))
