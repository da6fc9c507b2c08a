"""An order no package holds (issue 18): validation's bounds pass (its longest side, weight and
volume are within the largest box) but planning finds no box for it. It is quarantined once, with the
rule and what it needs, shows in the quarantine views and the action list, and is not planned or
skipped again on the next run.
"""

from __future__ import annotations

import sqlalchemy as sa

from tests.validation.conftest import good_order, insert_orders
from wishflow.actions.queues import action_items, queue_counts
from wishflow.shipping import ManualLabels, default_policy, plan_and_save
from wishflow.validation import validate_pending
from wishflow.validation.holds import PARCEL_RULE
from wishflow.warehouse.validation_schema import order_validation_failures, order_validations

STORE = "boxes"


def _seed(engine: sa.Engine) -> None:
    # a 450 x 450 x 10 mm panel: its longest side fits the large box (500 mm), its second side does not (400 mm)
    panel = {"sku": "PANEL-450", "sku_weight_grams": 900}
    panel.update(sku_length_mm=450, sku_width_mm=450, sku_height_mm=10)
    insert_orders(engine, STORE, [good_order("panel", **panel), good_order("fine")])
    validate_pending(engine, STORE, "validate-1")


def test_an_order_no_package_holds_is_quarantined_once_with_what_it_needs(engine: sa.Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        before = dict(conn.execute(sa.select(order_validations.c.order_id, order_validations.c.status)).all())
    assert before == {"panel": "valid", "fine": "valid"}  # validation's bounds let it through

    first = plan_and_save(
        engine, None, STORE, default_policy(), labels=ManualLabels({"fine": "YT1234567890123456"}), check_carriers=False
    )
    assert first.held == ["panel"]
    assert "panel" in first.plan.skipped
    assert first.unlabelled == {}, first.to_json()
    assert first.planned == 1, first.to_json()

    with engine.connect() as conn:
        verdict = conn.execute(sa.select(order_validations).where(order_validations.c.order_id == "panel")).one()
        finding = conn.execute(
            sa.select(order_validation_failures).where(order_validation_failures.c.order_id == "panel")
        ).one()
        reasons = conn.execute(
            sa.text("SELECT rule, observed_value FROM v_quarantine_reasons WHERE store = :s"), {"s": STORE}
        ).all()
        quarantined = conn.execute(
            sa.text("SELECT order_id, reasons FROM v_quarantined_orders WHERE store = :s"), {"s": STORE}
        ).all()
    assert (verdict.status, verdict.blocking_failures) == ("invalid", 1)
    assert verdict.quarantined_since == verdict.validated_updated_at  # Wish's clock: the version held
    assert (finding.expectation, finding.severity, finding.resolved_at) == (PARCEL_RULE, "blocking", None)
    assert "450x450x10 mm" in finding.observed_value
    assert "900 g" in finding.observed_value
    assert "large_box" in finding.observed_value
    assert reasons == [(PARCEL_RULE, finding.observed_value)]
    assert [(r.order_id, r.reasons) for r in quarantined] == [("panel", PARCEL_RULE)]
    items = [i for i in action_items(engine, STORE) if i["kind"] == "quarantined_order"]
    assert [i["order_id"] for i in items] == ["panel"]
    assert queue_counts(engine, STORE).quarantined == 1

    # the next run neither plans nor skips it again, and records nothing new
    second = plan_and_save(engine, None, STORE, default_policy(), labels=ManualLabels({}), check_carriers=False)
    assert second.held == []
    assert second.plan.skipped == {}
    assert second.plan.order_count == 0
    with engine.connect() as conn:
        again = conn.execute(
            sa.select(order_validations.c.blocking_failures, order_validations.c.quarantined_since).where(
                order_validations.c.order_id == "panel"
            )
        ).one()
    assert tuple(again) == (1, verdict.quarantined_since)


def test_a_dry_run_holds_nothing(engine: sa.Engine) -> None:
    _seed(engine)
    plan = plan_and_save(engine, None, STORE, default_policy(), dry_run=True, check_carriers=False)
    assert "panel" in plan.plan.skipped
    assert plan.held == []
    with engine.connect() as conn:
        statuses = set(conn.execute(sa.select(order_validations.c.status)).scalars())
    assert statuses == {"valid"}


def test_a_package_a_rule_names_must_fit_too() -> None:
    from io import StringIO

    from tests.shipping.test_policy_and_batching import order
    from wishflow.shipping import ShippingPolicy, SkuTable, plan_shipments

    policy = ShippingPolicy.from_yaml(
        "default: {carrier: YunExpress, service: standard, origin_country: CN}\n"
        "rules:\n  - name: fragile\n    when: {tags: [fragile]}\n    then: {carrier: FedEx, package: small_box}\n"
    )
    header = "sku,weight_grams,length_mm,width_mm,height_mm,tags\n"
    skus = SkuTable.from_csv(StringIO(header + "VASE,800,300,120,120,fragile\n"))
    plan = plan_shipments([order("vase", sku="VASE")], policy, skus)
    assert plan.parcels == []
    assert "the policy names" in plan.skipped["vase"]
    assert "300x120x120 mm" in plan.skipped["vase"]
    assert "'small_box'" in plan.skipped["vase"]
    # an operator's explicit package is obeyed as given
    forced = plan_shipments([order("vase", sku="VASE")], policy, skus, package="small_box")
    assert [p.package for p in forced.parcels] == ["small_box"]


def test_a_newer_version_is_judged_again_and_held_again_if_it_still_fits_no_package(engine: sa.Engine) -> None:
    from datetime import timedelta

    from tests.validation.conftest import NOW

    _seed(engine)
    labels = ManualLabels({"fine": "YT1234567890123456"})
    assert plan_and_save(engine, None, STORE, default_policy(), labels=labels, check_carriers=False).held == ["panel"]
    # Wish sends a newer version (same items): validation passes it, which resolves the planning finding
    newer = good_order("panel", sku="PANEL-450", updated_at=NOW + timedelta(minutes=5))
    insert_orders(engine, STORE, [newer], replace=True)
    validate_pending(engine, STORE, "validate-2")
    with engine.connect() as conn:
        status = conn.execute(
            sa.select(order_validations.c.status).where(order_validations.c.order_id == "panel")
        ).scalar_one()
        open_findings = conn.execute(
            sa.select(sa.func.count()).where(
                order_validation_failures.c.order_id == "panel", order_validation_failures.c.resolved_at.is_(None)
            )
        ).scalar_one()
    assert (status, open_findings) == ("valid", 0)
    again = plan_and_save(engine, None, STORE, default_policy(), labels=ManualLabels({}), check_carriers=False)
    assert again.held == ["panel"]
    with engine.connect() as conn:
        verdict = conn.execute(sa.select(order_validations).where(order_validations.c.order_id == "panel")).one()
    assert verdict.status == "invalid"
    assert verdict.quarantined_since == NOW + timedelta(minutes=5)
