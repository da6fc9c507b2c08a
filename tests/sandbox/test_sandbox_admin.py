"""The admin API, determinism by seed, labels, persistence and the CLI wiring."""

from __future__ import annotations

import argparse
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from wishflow.sandbox import RunningSandbox, Sandbox, SandboxConfig, serve_in_thread


def test_partial_orders_are_deep_merged_over_generated_ones(api: httpx.Client, admin: httpx.Client) -> None:
    partial = {
        "state": "APPROVED",
        "full_address": {"shipping_detail": {"city": "Lyon", "country_code": "FR"}},
        "product_information": {"sku": "MY-SKU-1"},
    }
    oid = admin.post("/orders", json={"orders": [partial]}).json()["ids"][0]
    order = api.get(f"/orders/{oid}").json()["data"]
    detail = order["full_address"]["shipping_detail"]
    assert detail["city"] == "Lyon"
    assert detail["country_code"] == "FR"
    assert detail["street_address1"]
    assert order["product_information"]["sku"] == "MY-SKU-1"
    assert order["product_information"]["name"]
    assert order["released_at"] == order["updated_at"] == "2025-03-01T12:00:00.000Z"


def test_given_ids_and_bad_orders(admin: httpx.Client) -> None:
    oid = "aaaaaaaaaaaaaaaaaaaaaaaa"
    assert admin.post("/orders", json={"orders": [{"id": oid}]}).json() == {"ids": [oid]}
    assert admin.post("/orders", json={"orders": [{"id": oid}]}).status_code == 400
    assert admin.post("/orders", json={"orders": [{"id": "xyz"}]}).status_code == 400
    assert admin.post("/orders", json={"orders": [{"state": "LOST"}]}).status_code == 400
    assert admin.post("/orders", json={"nothing": 1}).status_code == 400


def test_count_form_creates_many_orders_quickly(admin: httpx.Client, api: httpx.Client) -> None:
    ids = admin.post("/orders", json={"count": 5000}).json()["ids"]
    assert len(set(ids)) == 5000
    stats = admin.get("/stats").json()
    assert stats["orders"]["total"] == 5120
    tied = admin.post("/orders", json={"count": 10, "template": {"updated_at": "2025-01-01T00:00:00Z"}}).json()["ids"]
    got = api.get("/orders", params={"updated_at_max": "2025-01-01T00:00:00Z", "limit": 50}).json()["data"]
    assert sorted(o["id"] for o in got) == sorted(tied)


def test_clock_get_set_and_advance(admin: httpx.Client) -> None:
    assert admin.get("/clock").json() == {"now": "2025-03-01T12:00:00.000Z", "running": False}
    assert admin.post("/clock", json={"advance_seconds": 90}).json()["now"] == "2025-03-01T12:01:30.000Z"
    assert admin.post("/clock", json={"now": "2025-03-02T00:00:00Z"}).json()["now"] == "2025-03-02T00:00:00.000Z"
    backwards = admin.post("/clock", json={"now": "2025-01-01T00:00:00Z"})
    assert backwards.status_code == 400
    assert backwards.json()["code"] == 1001
    assert admin.post("/clock", json={"advance_seconds": -5}).status_code == 400


def test_writes_stats_and_unknown_order(api: httpx.Client, admin: httpx.Client) -> None:
    oid = admin.post("/orders", json={"orders": [{}]}).json()["ids"][0]
    assert admin.get(f"/orders/{oid}/writes").json() == {"writes": []}
    api.put(f"/orders/{oid}/tracking", json={"tracking_number": "bad number", "shipping_provider": "UPS",
                                             "origin_country": "CN"})  # fmt: skip
    writes = admin.get(f"/orders/{oid}/writes").json()["writes"]
    assert writes[0]["outcome"] == "rejected"
    assert writes[0]["code"] == 4002
    assert writes[0]["body"]["tracking_number"]
    assert admin.get("/orders/0123456789abcdef01234567/writes").status_code == 400
    stats = admin.get("/stats").json()
    assert stats["requests"]["PUT /api/v3/orders/{id}/tracking"] == {"400:4002": 1}
    assert sum(stats["orders"]["by_state"].values()) == stats["orders"]["total"]


def test_reset_with_another_seed_changes_data_and_tokens(running: RunningSandbox, admin: httpx.Client) -> None:
    first = admin.post("/reset", json={"seed": 8}).json()
    second = admin.post("/reset", json={"seed": 8}).json()
    third = admin.post("/reset", json={"seed": 9}).json()
    assert first == second
    assert first["access_token"] != third["access_token"]
    assert running.access_token == third["access_token"]


def test_same_seed_same_everything() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    a = Sandbox(SandboxConfig(seed=42, orders=300, bad_order_share=0.2, start_time=start))
    b = Sandbox(SandboxConfig(seed=42, orders=300, bad_order_share=0.2, start_time=start))
    c = Sandbox(SandboxConfig(seed=43, orders=300, bad_order_share=0.2, start_time=start))
    assert a.list_orders_raw(limit=500) == b.list_orders_raw(limit=500) != c.list_orders_raw(limit=500)
    assert (a.access_token, a.client_id, a.client_secret, a.refresh_token) == (
        b.access_token, b.client_id, b.client_secret, b.refresh_token,
    )  # fmt: skip
    assert a.access_token != c.access_token
    a.advance(10 * 86400)
    b.advance(10 * 86400)
    assert a.list_orders_raw(limit=500) == b.list_orders_raw(limit=500)
    ids = a.order_ids()[:3]
    assert a.make_labels(ids, "YunExpress") == b.make_labels(ids, "YunExpress")


def test_generated_data_is_realistic_and_has_bad_records() -> None:
    sandbox = Sandbox(
        SandboxConfig(seed=5, orders=400, bad_order_share=0.25, start_time=datetime(2025, 3, 1, tzinfo=UTC))
    )
    orders = sandbox.list_orders(limit=500)
    states = {o["state"] for o in orders}
    assert {"APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED"} <= states
    countries = {o["full_address"]["shipping_detail"]["country_code"] for o in orders}
    assert len(countries) >= 8
    assert any("neighborhood" in o["full_address"]["shipping_detail"] for o in orders)
    assert any("WISH_EXPRESS" in o["fulfillment_order_types"] for o in orders)
    assert any("CONFIRMED_DELIVERY_POLICY" in o["fulfillment_order_types"] for o in orders)
    transactions = [o["transaction_id"] for o in orders]
    assert len(set(transactions)) < len(transactions)  # multi-order transactions
    recipients = [o["full_address"]["shipping_detail"]["name"] + o["full_address"]["shipping_detail"]["street_address1"]
                  for o in orders]  # fmt: skip
    assert len(set(recipients)) < len(recipients)  # same recipient again
    bad = [
        o
        for o in orders
        if not o["product_information"]["sku"]
        or o["order_payment"]["general_payment_details"]["product_quantity"] == 0
        or not o["full_address"]["shipping_detail"]["street_address1"]
        or len(o["full_address"]["shipping_detail"]["country_code"]) != 2
        or o["full_address"]["shipping_detail"]["country_code"] == "XX"
        or "?" in o["full_address"]["shipping_detail"]["phone_number"]["number"]
        or not o["full_address"]["shipping_detail"]["city"]
        or not o["full_address"]["shipping_detail"]["zipcode"]
        or not o["full_address"]["shipping_detail"]["name"]
    ]
    assert 40 <= len(bad) <= 160


def test_labels_are_carrier_format_tracking_numbers(admin: httpx.Client, api: httpx.Client) -> None:
    ids = admin.post("/orders", json={"count": 3}).json()["ids"]
    labels = admin.post("/labels", json={"order_ids": ids, "carrier": "ChinaAirPost"}).json()["labels"]
    assert [label["order_id"] for label in labels] == ids
    for label in labels:
        number = label["tracking_number"]
        assert number.startswith("LX")
        assert number.endswith("CN")
        assert number.isalnum()
        assert len(number) == 13
        assert label["weight_grams"] > 0
    assert admin.post("/labels", json={"order_ids": ids, "carrier": "Owl"}).json()["code"] == 4003


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = str(tmp_path / "sandbox.sqlite")
    config = SandboxConfig(seed=3, orders=50, state_file=state, start_time=datetime(2025, 3, 1, tzinfo=UTC))
    with serve_in_thread(config) as first:
        headers = {"Authorization": f"Bearer {first.access_token}"}
        oid = httpx.post(f"{first.base_url}/sandbox/orders", json={"orders": [{}]}).json()["ids"][0]
        httpx.put(f"{first.api_url}/orders/{oid}/tracking", headers=headers,
                  json={"tracking_number": "1ZX1", "shipping_provider": "UPS", "origin_country": "CN"})  # fmt: skip
        before = httpx.get(f"{first.api_url}/orders", params={"limit": 500}, headers=headers).content
        token = first.access_token
    again = SandboxConfig(seed=3, orders=50, state_file=state, start_time=datetime(2025, 3, 1, tzinfo=UTC))
    with serve_in_thread(again) as second:
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{second.api_url}/orders", params={"limit": 500}, headers=headers).content == before
        httpx.post(f"{second.base_url}/sandbox/clock", json={"advance_seconds": 5})
        assert httpx.get(f"{second.api_url}/orders/{oid}", headers=headers).json()["data"]["state"] == "SHIPPED"
        assert len(httpx.get(f"{second.base_url}/sandbox/orders/{oid}/writes").json()["writes"]) == 1


def test_cli_parser_registers_sandbox_serve() -> None:
    from wishflow_cli.sandbox_cmd import add_parser, run_serve

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "serve", "--port", "0", "--seed", "4", "--orders", "10", "--rate-limit", "5"])
    assert (args.host, args.port, args.seed, args.orders, args.rate_limit, args.state_file) == (
        "127.0.0.1", 0, 4, 10, 5, None,
    )  # fmt: skip
    assert args.func is run_serve


def test_library_has_no_prefect_imports() -> None:
    root = Path(__file__).resolve().parents[2] / "wishflow" / "sandbox"
    found = subprocess.run(["grep", "-rlE", r"^\s*(import|from) prefect", str(root)], capture_output=True, text=True)
    assert found.stdout == ""
    assert orjson.loads(orjson.dumps({"ok": True}))
