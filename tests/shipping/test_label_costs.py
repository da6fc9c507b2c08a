"""Label costs (issue 18): a cost a label source reports is checked, carried with its number, and
recorded once per parcel on its shipment, so analysts can sum postage by carrier exactly.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import sqlalchemy as sa
from shipping_helpers import STORE
from test_policy_and_batching import POLICY, SKUS, order

from wishflow.docs import EXAMPLES
from wishflow.shipping import SandboxLabels, ShippingPolicy, SkuTable, default_policy, plan_and_save, plan_shipments
from wishflow.shipping.labels import Label, LabelError, ManualLabels, TableLabels, assign_numbers, parse_cost
from wishflow.warehouse.shipping_schema import shipments


@pytest.fixture
def policy() -> ShippingPolicy:
    return ShippingPolicy.from_yaml(POLICY)


@pytest.fixture
def skus() -> SkuTable:
    return SkuTable.from_csv(StringIO(SKUS))


def test_table_labels_carry_an_optional_cost_checked_like_money(policy, skus) -> None:  # type: ignore[no-untyped-def]
    plan = plan_shipments([order("a", recipient_name="A"), order("b", recipient_name="B")], policy, skus)
    table = TableLabels.from_csv(
        StringIO(
            "order_id,tracking_number,carrier,cost,currency\n"
            "a,YT1111222233334444,YunExpress,3.35,usd\n"
            "b,YT1111222233335555,YunExpress,,\n"
        )
    )
    assert assign_numbers(plan.parcels, table) == {}
    by_order = {p.order_ids[0]: (p.tracking_number, p.label_cost, p.label_cost_currency) for p in plan.parcels}
    assert by_order == {"a": ("YT1111222233334444", Decimal("3.35"), "USD"), "b": ("YT1111222233335555", None, None)}
    for cost, currency, reason in [
        ("abc", "USD", "not a number"),
        ("-1", "USD", "out of range"),
        ("1e9", "USD", "out of range"),
        ("0.00001", "USD", "4 decimal places"),
        ("2.50", "", "currency"),
        ("2.50", "dollars", "currency"),
    ]:
        with pytest.raises(LabelError, match=reason):
            TableLabels([{"order_id": "a", "tracking_number": "YT11112222", "cost": cost, "currency": currency}])
    assert parse_cost(None, None, "x") == (None, None)


def test_a_combined_parcel_has_one_label_and_one_cost(policy, skus) -> None:  # type: ignore[no-untyped-def]
    plan = plan_shipments([order("x1"), order("x2")], policy, skus)
    (parcel,) = plan.parcels
    same = Label("YT0000000000000001", Decimal("4.20"), "USD")
    assert assign_numbers(plan.parcels, ManualLabels({"x1": same, "x2": "YT0000000000000001"})) == {}
    assert (parcel.label_cost, parcel.label_cost_currency) == (Decimal("4.20"), "USD")
    other = Label("YT0000000000000001", Decimal("4.30"), "USD")
    with pytest.raises(LabelError, match="different label costs"):
        ManualLabels({"x1": same, "x2": other}).numbers(plan.parcels)


def test_the_sandbox_reports_a_cost_and_each_label_is_recorded_once(
    sandbox: Any, engine: sa.Engine, client: Any, seed: Any
) -> None:
    # two orders to one recipient (combined in one parcel) and two alone
    first = seed(count=1)
    detail = sandbox.sandbox.get_order(first[0])["full_address"]["shipping_detail"]
    ids = first + seed(orders=[{"full_address": {"shipping_detail": detail}}, {}, {}])
    plan = plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
    assert plan.planned == 4
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(shipments.c.order_id, shipments.c.parcel_id, shipments.c.label_cost)
            .add_columns(shipments.c.label_cost_currency)
            .where(shipments.c.store == STORE, shipments.c.order_id.in_(ids))
            .order_by(shipments.c.order_id)
        ).all()
        example = next(e for e in EXAMPLES if e.key == "postage_by_carrier")
        postage = conn.execute(sa.text(example.for_dialect(engine.dialect.name))).all()
    parcels: dict[str, list[Any]] = {}
    for row in rows:
        parcels.setdefault(row.parcel_id, []).append(row)
    assert sorted(len(m) for m in parcels.values()) == [1, 1, 2]
    for members in parcels.values():
        costed = [r for r in members if r.label_cost is not None]
        assert len(costed) == 1, members  # one label, one cost, on the parcel's first order
        assert costed[0].order_id == min(r.order_id for r in members)
        assert costed[0].label_cost >= Decimal("2.85")
        assert costed[0].label_cost_currency == "USD"
    total = sum(r.label_cost for r in rows if r.label_cost is not None)
    assert sum(Decimal(str(p.postage)) for p in postage) == total
    assert sum(int(p.parcels) for p in postage) == len(parcels)
