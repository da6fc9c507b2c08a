"""The order state machine and the clock-driven events of DESIGN.md §2."""

from __future__ import annotations

from typing import Any

import httpx

from wishflow.sandbox import RunningSandbox

DAY = 86400
TRACKING = {"tracking_number": "1Z999AA10123456784", "shipping_provider": "UPS", "origin_country": "CN"}


def new_order(admin: httpx.Client, **fields: Any) -> str:
    base: dict[str, Any] = {"fulfillment_order_types": ["FULFILLED_BY_STORE"]}
    base.update(fields)
    base.setdefault("full_address", {"shipping_detail": {"country_code": "US", "country": "United States"}})
    return admin.post("/orders", json={"orders": [base]}).json()["ids"][0]


def order(api: httpx.Client, oid: str) -> dict[str, Any]:
    return api.get(f"/orders/{oid}").json()["data"]


def events(o: dict[str, Any]) -> list[str]:
    return [r["event_type"] for r in o["fulfillment_records"]]


def advance(admin: httpx.Client, seconds: float) -> None:
    admin.post("/clock", json={"advance_seconds": seconds}).raise_for_status()


def test_tracking_put_is_asynchronous_then_ships(api: httpx.Client, admin: httpx.Client) -> None:
    oid = new_order(admin)
    put = api.put(f"/orders/{oid}/tracking", json=TRACKING).json()["data"]
    assert put["processing_source"] == "UPDATE_TRACKING"
    assert put["processing_status"] == "IN_PROGRESS"
    assert put["state"] == "APPROVED"
    assert put["tracking_information"][0]["tracking_number"] == TRACKING["tracking_number"]
    advance(admin, 2)
    done = order(api, oid)
    assert done["state"] == "SHIPPED"
    assert done["processing_status"] == "SUCCEEDED"
    assert events(done) == ["ORDER_RELEASED", "MARK_SHIPPED"]
    writes = admin.get(f"/orders/{oid}/writes").json()["writes"]
    assert [(w["endpoint"], w["outcome"], w["processing_status"]) for w in writes] == [
        ("tracking", "accepted", "SUCCEEDED")
    ]


def test_a_second_write_while_in_progress_is_rejected(api: httpx.Client, admin: httpx.Client) -> None:
    oid = new_order(admin)
    assert api.put(f"/orders/{oid}/tracking", json=TRACKING).status_code == 200
    again = api.put(f"/orders/{oid}/tracking", json=TRACKING)
    assert again.status_code == 400
    assert again.json()["code"] == 4006
    outcomes = [w["outcome"] for w in admin.get(f"/orders/{oid}/writes").json()["writes"]]
    assert outcomes == ["accepted", "rejected"]


def test_tracking_validation_errors(api: httpx.Client, admin: httpx.Client) -> None:
    oid = new_order(admin)
    cases = [
        ({**TRACKING, "tracking_number": "1Z-999 AA"}, 4002),
        ({**TRACKING, "shipping_provider": "Pigeon Express"}, 4003),
        ({**TRACKING, "origin_country": "China"}, 1001),
        ({"tracking_number": "ABC123"}, 1001),
    ]
    for body, code in cases:
        response = api.put(f"/orders/{oid}/tracking", json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == code, body
    refunded = new_order(admin, state="REFUNDED")
    assert api.put(f"/orders/{refunded}/tracking", json=TRACKING).json()["code"] == 4001
    review = new_order(admin, state="REQUIRE_REVIEW")
    assert api.put(f"/orders/{review}/tracking", json=TRACKING).json()["code"] == 4001


def test_carrier_not_serving_the_destination_fails_asynchronously(api: httpx.Client, admin: httpx.Client) -> None:
    oid = new_order(admin, full_address={"shipping_detail": {"country_code": "FR", "country": "France"}})
    body = {"tracking_number": "AB123456789GB", "shipping_provider": "RoyalMail", "origin_country": "GB"}
    assert api.put(f"/orders/{oid}/tracking", json=body).json()["data"]["processing_status"] == "IN_PROGRESS"
    advance(admin, 2)
    failed = order(api, oid)
    assert failed["processing_status"] == "FAILED"
    assert failed["state"] == "APPROVED"
    assert failed["tracking_information"] == []
    assert admin.get(f"/orders/{oid}/writes").json()["writes"][0]["code"] == 4004


def test_confirmed_delivery_orders_need_a_confirmed_delivery_carrier(api: httpx.Client, admin: httpx.Client) -> None:
    types = ["FULFILLED_BY_STORE", "CONFIRMED_DELIVERY_POLICY"]
    oid = new_order(admin, fulfillment_order_types=types)
    carriers = api.get(
        "/orders/shipping_carriers", params={"order_type": "CONFIRMED_DELIVERY", "dest_country_code": "US"}
    )
    names = {c["name"] for c in carriers.json()["data"]}
    assert "UPS" in names
    assert "Yanwen" not in names
    assert "RoyalMail" not in names
    api.put(f"/orders/{oid}/tracking", json={**TRACKING, "shipping_provider": "Yanwen", "tracking_number": "UG1CN"})
    advance(admin, 2)
    assert order(api, oid)["processing_status"] == "FAILED"
    assert admin.get(f"/orders/{oid}/writes").json()["writes"][0]["code"] == 4005
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 2)
    assert order(api, oid)["state"] == "SHIPPED"


def test_at_most_two_tracking_sets_newest_first(api: httpx.Client, admin: httpx.Client) -> None:
    oid = new_order(admin)
    for number in ("1ZAAA0001", "1ZAAA0002", "1ZAAA0003"):
        assert api.put(f"/orders/{oid}/tracking", json={**TRACKING, "tracking_number": number}).status_code == 200
        advance(admin, 2)
    kept = [t["tracking_number"] for t in order(api, oid)["tracking_information"]]
    assert kept == ["1ZAAA0003", "1ZAAA0002"]


def test_one_tracking_number_for_several_orders_only_to_the_same_recipient(
    api: httpx.Client, admin: httpx.Client
) -> None:
    recipient = {
        "name": "Ana Silva",
        "street_address1": "1 Main St",
        "street_address2": "",
        "city": "Austin",
        "state": "TX",
        "zipcode": "73301",
        "country_code": "US",
    }
    first = new_order(admin, full_address={"shipping_detail": recipient}, released_at="2025-03-01T00:00:00Z")
    second = new_order(admin, full_address={"shipping_detail": recipient}, released_at="2025-02-27T00:00:00Z")
    other = new_order(admin, full_address={"shipping_detail": {**recipient, "name": "Bob"}})
    late = new_order(admin, full_address={"shipping_detail": recipient}, released_at="2025-02-20T00:00:00Z")
    body = {**TRACKING, "tracking_number": "1ZSHARED01"}
    assert api.put(f"/orders/{first}/tracking", json=body).status_code == 200
    assert api.put(f"/orders/{second}/tracking", json=body).status_code == 200
    assert api.put(f"/orders/{other}/tracking", json=body).json()["code"] == 4011
    assert api.put(f"/orders/{late}/tracking", json=body).json()["code"] == 4011


def test_carrier_scan_and_delivery_milestones(running: RunningSandbox, api: httpx.Client, admin: httpx.Client) -> None:
    running.sandbox.config.cancelled_share = 0
    running.sandbox.config.never_scanned_share = 0
    running.sandbox.config.delayed_share = 0
    oid = new_order(admin)
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 2)
    advance(admin, 3 * DAY)
    assert "CONFIRM_FULFILLED" in events(order(api, oid))
    advance(admin, 20 * DAY)
    running.sandbox.issue_token()
    api.headers["Authorization"] = f"Bearer {running.access_token}"
    final = order(api, oid)
    assert events(final) == ["ORDER_RELEASED", "MARK_SHIPPED", "CONFIRM_FULFILLED", "CONFIRMED_DELIVERED"]
    assert final["state"] == "SHIPPED"  # there is no delivered state
    times = [r["event_time"] for r in final["fulfillment_records"]]
    assert times == sorted(times)
    assert final["updated_at"] == times[-1]


def test_cancelled_tracking_re_releases_the_order(
    running: RunningSandbox, api: httpx.Client, admin: httpx.Client
) -> None:
    running.sandbox.config.cancelled_share = 1.0
    oid = new_order(admin)
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 2)
    advance(admin, 9 * DAY)
    again = order(api, oid)
    assert again["state"] == "APPROVED"
    assert again["tracking_information"] == []
    assert events(again)[-2:] == ["TRACKING_CANCELLED", "ORDER_RE_RELEASED"]
    # it can be shipped again
    api.put(f"/orders/{oid}/tracking", json={**TRACKING, "tracking_number": "1ZNEW0001"})
    advance(admin, 2)
    assert order(api, oid)["state"] == "SHIPPED"


def test_never_scanned_parcel_gets_a_late_fulfillment_penalty(
    running: RunningSandbox, api: httpx.Client, admin: httpx.Client
) -> None:
    running.sandbox.config.cancelled_share = 0
    running.sandbox.config.never_scanned_share = 1.0
    oid = new_order(admin)
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 8 * DAY)  # past 168 h after release
    late = order(api, oid)
    assert "CONFIRM_FULFILLED" not in events(late)
    assert len(late["penalties"]) == 1
    penalty = api.get(f"/penalties/{late['penalties'][0]}").json()["data"]
    assert penalty["penalty_reason"] == "LATE_CONFIRMED_FULFILLMENT"
    assert penalty["related_entity_id"] == oid


def test_unshipped_order_is_refunded_with_a_penalty_at_expected_ship_time(
    api: httpx.Client, admin: httpx.Client
) -> None:
    oid = new_order(admin)
    ship_by = order(api, oid)["fulfillment_requirements"]["expected_ship_time"]
    advance(admin, 5 * DAY - 1)
    assert order(api, oid)["state"] == "APPROVED"
    advance(admin, 1)
    refunded = order(api, oid)
    assert refunded["state"] == "REFUNDED"
    assert refunded["updated_at"] == ship_by
    assert refunded["refunds"][0]["refund_source"] == "WISH"
    assert len(refunded["penalties"]) == 1
    assert api.get("/penalties/count").json()["data"]["count"] >= 1


def test_require_review_orders_are_resolved_later(api: httpx.Client, admin: httpx.Client) -> None:
    ids = [new_order(admin, state="REQUIRE_REVIEW") for _ in range(6)]
    advance(admin, 2 * DAY)
    states = {order(api, oid)["state"] for oid in ids}
    assert states <= {"APPROVED", "DECLINED"}
    assert states


def test_address_changes_only_before_shipping(api: httpx.Client, admin: httpx.Client) -> None:
    oid = new_order(admin)
    address = {"street_address1": "5 Elm St", "city": "Denver", "state": "CO", "zipcode": "80202", "country_code": "US"}
    changed = api.put(f"/orders/{oid}/address", json=address).json()["data"]
    assert changed["processing_source"] == "MODIFY_SHIPPING"
    assert changed["processing_status"] == "IN_PROGRESS"
    assert changed["full_address"]["shipping_detail"]["city"] == "Denver"
    advance(admin, 2)
    assert order(api, oid)["processing_status"] == "SUCCEEDED"
    assert api.put(f"/orders/{oid}/address", json={**address, "country_code": "CA"}).json()["code"] == 4012
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 2)
    assert api.put(f"/orders/{oid}/address", json=address).json()["code"] == 4007


def test_refund_reasons_depend_on_the_stage(running: RunningSandbox, api: httpx.Client, admin: httpx.Client) -> None:
    running.sandbox.config.cancelled_share = 0
    running.sandbox.config.never_scanned_share = 0
    oid = new_order(admin)
    before = api.get(f"/orders/{oid}/refund_reasons").json()["data"]
    assert "MERCHANT_OUT_OF_STOCK" in before
    assert "ITEM_IS_DAMAGED" not in before
    wrong = api.put(f"/orders/{oid}/refund", json={"refund_reason": "ITEM_IS_DAMAGED"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == 4008
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 2)
    in_transit = api.get(f"/orders/{oid}/refund_reasons").json()["data"]
    assert "SHIPPING_TAKING_TOO_LONG" in in_transit
    refund = api.put(
        f"/orders/{oid}/refund", json={"refund_reason": "SHIPPING_TAKING_TOO_LONG", "refund_reason_note": "x"}
    )
    assert refund.json()["data"]["processing_source"] == "REFUND"
    advance(admin, 2)
    done = order(api, oid)
    assert done["state"] == "REFUNDED"
    assert done["refunds"][-1]["refund_reason"] == "SHIPPING_TAKING_TOO_LONG"
    assert api.get(f"/orders/{oid}/refund_reasons").json()["data"] == []
    again = api.put(f"/orders/{oid}/refund", json={"refund_reason": "SHIPPING_TAKING_TOO_LONG"})
    assert again.json()["code"] == 4009


def test_tickets_open_wait_for_the_merchant_and_close(
    running: RunningSandbox, api: httpx.Client, admin: httpx.Client
) -> None:
    running.sandbox.config.ticket_share = 1.0
    running.sandbox.config.cancelled_share = 0
    running.sandbox.config.never_scanned_share = 0
    oid = new_order(admin)
    api.put(f"/orders/{oid}/tracking", json=TRACKING)
    advance(admin, 2)
    advance(admin, 29 * DAY)
    tickets = api.get("/tickets", params={"states": "AWAITING_MERCHANT"}).json()["data"]
    mine = [t for t in tickets if t["orders"] == [{"id": oid}]]
    assert len(mine) == 1
    assert mine[0]["state"] == "AWAITING_MERCHANT"
    tid = mine[0]["id"]
    reply = api.post(f"/tickets/{tid}/replies", json={"message": "A replacement is on its way"}).json()["data"]
    assert reply["sender"] == "MERCHANT"
    assert api.get(f"/tickets/{tid}").json()["data"]["state"] == "AWAITING_USER"
    advance(admin, 1 * DAY)
    running.sandbox.issue_token()  # 30 sandbox days went by: the first token expired
    api.headers["Authorization"] = f"Bearer {running.access_token}"
    closed = api.get(f"/tickets/{tid}").json()["data"]
    assert closed["state"] == "CLOSED"
    assert closed["resolution_info"]["closed_by"] == "USER"
    reopened = api.put(f"/tickets/{tid}", json={"state": "AWAITING_MERCHANT"}).json()["data"]
    assert reopened["state"] == "AWAITING_MERCHANT"


def test_clock_releases_new_orders(running: RunningSandbox, api: httpx.Client, admin: httpx.Client) -> None:
    running.sandbox.config.release_rate_per_hour = 6
    try:
        admin.post("/reset", json={"seed": 7}).raise_for_status()
        before = admin.get("/stats").json()["orders"]["total"]
        advance(admin, 3600)
        assert admin.get("/stats").json()["orders"]["total"] - before >= 6
        newest = api.get("/orders", params={"limit": 1, "sort_by": "released_at.desc"}).json()["data"][0]
        assert newest["state"] == "APPROVED"
        assert newest["released_at"] <= "2025-03-01T13:00:00.000Z"
    finally:
        running.sandbox.config.release_rate_per_hour = 0
