"""Every implemented endpoint's responses, success and error, validated against Wish's own OpenAPI file.

The spec's response schemas describe the ``data`` member of the envelope, so a success is checked as
``data`` against the operation's 200 response, and an error body as a whole against ``APIError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from wishflow.sandbox import RunningSandbox

SPEC = Path(__file__).resolve().parents[3] / "shared" / "wish-api" / "openapi" / "wish-marketplace-v3-openapi.json"
if not SPEC.exists():  # the spec lives beside the repository, at ../shared/wish-api/openapi/
    SPEC = Path("/work/shared/wish-api/openapi/wish-marketplace-v3-openapi.json")


@pytest.fixture(scope="module")
def spec() -> tuple[OpenAPI, dict[str, Any]]:
    if not SPEC.exists():
        if os.environ.get("CI"):  # CI must check the sandbox against the spec, never pass by skipping
            pytest.fail(f"Wish's OpenAPI file is missing ({SPEC}): the conformance suite cannot run in CI")
        pytest.skip("Wish's OpenAPI file is not available")
    openapi = OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))
    raw = orjson.loads(SPEC.read_bytes())
    return openapi, raw


class Checker:
    def __init__(self, spec: tuple[OpenAPI, dict[str, Any]], running: RunningSandbox) -> None:
        self.openapi, raw = spec
        self.api_error = OAS30Validator(raw["components"]["schemas"]["APIError"])
        self.client = httpx.Client(
            base_url=running.base_url, headers={"Authorization": f"Bearer {running.access_token}"}, timeout=10
        )
        self.seen: set[tuple[str, str, str]] = set()

    def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None, expect: int = 200) -> Any:
        response = self.client.request(method, path, params=params, json=json)
        assert response.status_code == expect, response.text
        assert response.headers["wish-request-id"]
        assert int(response.headers["wish-rate-limit-remaining"]) >= 0
        body = response.json()
        if expect == 200:
            assert body["code"] == 0
            assert body["message"] == ""
            request = MockRequest(
                "https://merchant.wish.com", method.lower(), path, args=params or {}, headers={"Authorization": "x"}
            )
            data = MockResponse(orjson.dumps(body["data"]), status_code=200, content_type="application/json")
            self.openapi.validate_response(request, data)
            self.seen.add((method, path.split("/")[3], "ok"))
            return body["data"]
        self.api_error.validate(body)
        assert isinstance(body["code"], int)
        assert body["code"] != 0
        self.seen.add((method, path.split("/")[3], "error"))
        return body


@pytest.fixture
def check(spec: tuple[OpenAPI, dict[str, Any]], running: RunningSandbox) -> Iterator[Checker]:
    checker = Checker(spec, running)
    with checker.client:  # closed after the test: an open client's socket is a ResourceWarning at collection
        yield checker


def test_oauth_endpoints_conform(check: Checker, running: RunningSandbox, admin: httpx.Client) -> None:
    code = admin.post("/oauth/code").json()["code"]
    params = {
        "client_id": running.client_id,
        "client_secret": running.client_secret,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": running.sandbox.redirect_uri,
    }
    check.call("GET", "/api/v3/oauth/access_token", params=params)
    check.call("GET", "/api/v3/oauth/access_token", params=params, expect=400)
    code = admin.post("/oauth/code").json()["code"]
    check.call("POST", "/api/v3/oauth/access_token", json={**params, "code": code})
    check.call("POST", "/api/v3/oauth/access_token", json={**params, "grant_type": "x"}, expect=400)
    check.call("GET", "/api/v3/oauth/test")
    refresh = {
        "client_id": running.client_id,
        "client_secret": running.client_secret,
        "refresh_token": running.refresh_token,
        "grant_type": "refresh_token",
    }
    check.call("GET", "/api/v3/oauth/refresh_token", params={**refresh, "client_secret": "x"}, expect=400)
    check.call("GET", "/api/v3/oauth/refresh_token", params=refresh)
    check.call("GET", "/api/v3/oauth/test", expect=400)  # the refresh revoked the checker's token


def test_order_endpoints_conform(check: Checker, running: RunningSandbox, admin: httpx.Client) -> None:
    orders = check.call("GET", "/api/v3/orders", params={"limit": 500, "sort_by": "released_at.asc"})
    assert len(orders) == 120
    check.call("GET", "/api/v3/orders", params={"limit": 0}, expect=400)
    ids = admin.post(
        "/orders",
        json={
            "orders": [{"full_address": {"shipping_detail": {"country_code": "US"}}, "fulfillment_order_types": []}] * 2
        },
    ).json()["ids"]
    oid = ids[0]
    check.call("GET", f"/api/v3/orders/{oid}")
    check.call("GET", "/api/v3/orders/0123456789abcdef01234567", expect=400)
    check.call("GET", f"/api/v3/orders/{oid}/refund_reasons")
    check.call("GET", "/api/v3/orders/0123456789abcdef01234567/refund_reasons", expect=400)
    check.call("GET", "/api/v3/orders/shipping_carriers", params={"order_type": "GENERAL"})
    check.call(
        "GET",
        "/api/v3/orders/shipping_carriers",
        params={"order_type": "CONFIRMED_DELIVERY", "dest_country_code": "FR"},
    )
    check.call("GET", "/api/v3/orders/shipping_carriers", params={"order_type": "NOPE"}, expect=400)
    address = {
        "street_address1": "1 Infinite Loop",
        "city": "Cupertino",
        "state": "CA",
        "zipcode": "95014",
        "country_code": "US",
        "phone_number": {"number": "4085551234", "country_code": "1"},
    }
    check.call("PUT", f"/api/v3/orders/{oid}/address", json=address)
    check.call("PUT", f"/api/v3/orders/{oid}/address", json={"city": "x"}, expect=400)
    admin.post("/clock", json={"advance_seconds": 3})
    tracking = {"tracking_number": "9400111899223197428490", "shipping_provider": "USPS", "origin_country": "US"}
    check.call("PUT", f"/api/v3/orders/{oid}/tracking", json=tracking)
    check.call("PUT", f"/api/v3/orders/{oid}/tracking", json={**tracking, "tracking_number": "AB-12"}, expect=400)
    check.call("PUT", f"/api/v3/orders/{ids[1]}/refund", json={"refund_reason": "MERCHANT_OUT_OF_STOCK"})
    check.call("PUT", f"/api/v3/orders/{oid}/refund", json={"refund_reason": "NOT_A_REASON"}, expect=400)
    check.call("PUT", f"/api/v3/orders/{oid}", json={"tracking_url": "x"}, expect=400)  # not an LTL order
    (ltl,) = admin.post(
        "/orders", json={"orders": [{"fulfillment_order_types": ["FULFILLED_BY_STORE", "LESS_THAN_TRUCKLOAD"]}]}
    ).json()["ids"]
    check.call("PUT", f"/api/v3/orders/{ltl}", json={"tracking_url": "x"}, expect=400)  # not marked shipped yet
    check.call(
        "PUT",
        f"/api/v3/orders/{ltl}/tracking",
        json={**tracking, "tracking_number": "1Z999AA10123456784", "shipping_provider": "DHL"},
    )
    admin.post("/clock", json={"advance_seconds": 3}).raise_for_status()
    delivered = check.call("GET", f"/api/v3/orders/{ltl}")["updated_at"]
    updated = check.call("PUT", f"/api/v3/orders/{ltl}", json={"tracking_url": "x", "delivered_at": delivered})
    assert {"event_type": "CONFIRMED_DELIVERED", "event_time": delivered} in updated["fulfillment_records"]
    check.call("PUT", f"/api/v3/orders/{ltl}", json={"delivered_at": delivered}, expect=400)  # no link, no receipt
    job = check.call("POST", "/api/v3/orders/bulk_get", params={"limit": 1000, "sort_by": "updated_at.asc"})
    assert job["status"] == "PENDING"
    ready = check.call("GET", f"/api/v3/orders/bulk_get/{job['id']}")
    assert ready["status"] == "READY"
    assert ready["total_count"] == 123
    assert len(httpx.get(ready["file_urls"][0]).json()) == 123
    check.call("GET", "/api/v3/orders/bulk_get/0123456789abcdef01234567", expect=400)
    check.call("POST", "/api/v3/orders/bulk_get", params={"limit": 0}, expect=400)


def test_ticket_and_penalty_endpoints_conform(check: Checker, running: RunningSandbox, admin: httpx.Client) -> None:
    # 8 days later every unshipped order has been auto-refunded with a penalty
    admin.post("/clock", json={"advance_seconds": 8 * 86400}).raise_for_status()
    running.sandbox.issue_token()
    check.client.headers["Authorization"] = f"Bearer {running.access_token}"
    shipped = check.call("GET", "/api/v3/orders", params={"states": "SHIPPED", "limit": 1})[0]
    tid = admin.post("/tickets", json={"order_id": shipped["id"], "reason": "ITEM_IS_DAMAGED"}).json()["id"]
    tickets = check.call("GET", "/api/v3/tickets", params={"limit": 10})
    assert tid in {t["id"] for t in tickets}
    check.call("GET", "/api/v3/tickets", params={"limit": 1000}, expect=400)
    check.call("GET", f"/api/v3/tickets/{tid}")
    check.call("GET", "/api/v3/tickets/0123456789abcdef01234567", expect=400)
    check.call("POST", f"/api/v3/tickets/{tid}/replies", json={"message": "Sorry! A replacement is on its way."})
    check.call("POST", f"/api/v3/tickets/{tid}/replies", json={"message": "again"}, expect=400)
    check.call("PUT", f"/api/v3/tickets/{tid}", json={"state": "CLOSED"})
    check.call("PUT", f"/api/v3/tickets/{tid}", json={"state": "NOPE"}, expect=400)
    penalties = check.call("GET", "/api/v3/penalties", params={"limit": 500})
    assert penalties
    assert all(p["related_entity_type"] == "ORDER" for p in penalties)
    check.call("GET", "/api/v3/penalties", params={"sort_by": "amount"}, expect=400)
    check.call("GET", f"/api/v3/penalties/{penalties[0]['id']}")
    check.call("GET", "/api/v3/penalties/0123456789abcdef01234567", expect=400)
    count = check.call("GET", "/api/v3/penalties/count")
    assert count["count"] == len(penalties)
    check.call("GET", "/api/v3/penalties/count", params={"created_at_min": "never"}, expect=400)


def test_auth_errors_are_api_errors(spec: tuple[OpenAPI, dict[str, Any]], running: RunningSandbox) -> None:
    validator = OAS30Validator(spec[1]["components"]["schemas"]["APIError"])
    for path in ("/orders", "/tickets", "/penalties", "/oauth/test"):
        response = httpx.get(f"{running.api_url}{path}")
        assert response.status_code in (400, 401)
        validator.validate(response.json())
