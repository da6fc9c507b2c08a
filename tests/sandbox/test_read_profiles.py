"""Read profiles: each undocumented read-side behaviour the sandbox can play, and the client under each."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import pytest
from pydantic import SecretStr

from wishflow.api.auth import TokenSet
from wishflow.api.client import RetryPolicy, WishClient
from wishflow.sandbox import RunningSandbox
from wishflow.sandbox.read_profiles import READ_PROFILES


def use(running: RunningSandbox, name: str) -> None:
    running.sandbox.config.read_profile = name


def test_every_profile_is_named_and_unknown_names_fail() -> None:
    from wishflow.sandbox.read_profiles import read_profile

    assert "documented" in READ_PROFILES
    assert len(READ_PROFILES) >= 7
    with pytest.raises(ValueError, match="unknown read profile"):
        read_profile("nope")


@pytest.mark.parametrize("inclusive", [True, False])
def test_updated_at_min_inclusive_or_exclusive(running: RunningSandbox, api: httpx.Client, inclusive: bool) -> None:
    use(running, "documented" if inclusive else "exclusive_min")
    first = api.get("/orders", params={"limit": 1, "sort_by": "updated_at.asc"}).json()["data"][0]
    at = first["updated_at"]
    same = api.get("/orders", params={"updated_at_min": at, "updated_at_max": at}).json()["data"]
    assert (first["id"] in [o["id"] for o in same]) is inclusive


@pytest.mark.parametrize(
    ("profile", "check"),
    [
        ("documented", lambda v, now: v.isdigit() and 0 <= int(v) - now <= 3),
        ("reset_millis", lambda v, now: v.isdigit() and 0 <= int(v) / 1000 - now <= 3),
        ("reset_seconds_to_wait", lambda v, _now: v.isdigit() and 1 <= int(v) <= 3),
        ("reset_http_date", lambda v, now: 0 <= parsedate_to_datetime(v).timestamp() - now <= 3),
        ("reset_absent", lambda v, _now: v is None),
    ],
)
def test_reset_header_formats(running: RunningSandbox, api: httpx.Client, admin: httpx.Client, profile, check) -> None:  # type: ignore[no-untyped-def]
    import time

    use(running, profile)
    admin.put("/faults", json={"rate_limit_burst": 1, "script": [{"kind": "http_429"}]}).raise_for_status()
    response = api.get("/orders")
    assert response.status_code == 429
    assert check(response.headers.get("wish-rate-limit-reset"), time.time())


def test_error_codes_as_strings_with_data(running: RunningSandbox, api: httpx.Client) -> None:
    use(running, "string_codes_with_data")
    body = api.get("/orders", params={"limit": 9999}).json()
    assert isinstance(body["code"], str)
    assert body["code"].isdigit()
    assert "data" in body
    assert body["data"] is None
    use(running, "documented")
    body = api.get("/orders", params={"limit": 9999}).json()
    assert isinstance(body["code"], int)
    assert "data" not in body


@pytest.mark.parametrize("profile", sorted(READ_PROFILES))
def test_the_client_reads_through_every_profile(running: RunningSandbox, admin: httpx.Client, profile: str) -> None:
    """A 429, a 5xx and a rejected request under each profile: waited out, retried, classified."""
    use(running, profile)
    admin.put(
        "/faults", json={"rate_limit_burst": 1, "script": [{"kind": "http_429"}, {"kind": "http_503"}]}
    ).raise_for_status()
    with WishClient(
        running.api_url, TokenSet(SecretStr(running.access_token)), retry=RetryPolicy(base=0.05, cap=0.2)
    ) as client:
        assert len(client.list_orders(limit=5)) == 5
        assert client.retried_requests == 2
        from wishflow.api.errors import WishRequestError

        with pytest.raises(WishRequestError) as info:
            client.list_orders(limit=9999)
        assert info.value.code is not None  # a string code is still read as a number


def test_rev_share_is_a_decimal_fraction_as_the_spec_says(api: httpx.Client) -> None:
    data = api.get("/orders", params={"limit": 50}).json()["data"]
    shares = [
        o["order_payment"]["rev_share"]["rev_share"] for o in data if (o.get("order_payment") or {}).get("rev_share")
    ]
    assert shares
    assert all(0 < s < 1 for s in shares)  # 0.15 means 15% (RevShareDetails.rev_share)


def test_penalties_carry_only_the_spec_fields(running: RunningSandbox) -> None:
    sandbox = running.sandbox
    with sandbox.lock:
        pid = sandbox._add_penalty(sandbox.now_ms(), "0" * 24, "LATE_CONFIRMED_FULFILLMENT", 2.5)
        public = sandbox._public_ticket(sandbox._penalties[pid])
    spec = {"penalty_reason", "reversed_at", "related_entity_type", "related_entity_id", "penalty_amount"}
    spec |= {"created_at", "reversed", "id"}
    assert set(public) <= spec
    assert public["penalty_amount"]["amount"] == 2.5


def test_fields_gives_a_partial_response(api: httpx.Client) -> None:
    full = api.get("/orders", params={"limit": 3}).json()["data"]
    part = api.get("/orders", params={"limit": 3, "fields": "id,state,order_payment(rev_share/rev_share)"}).json()
    assert part["code"] == 0
    for whole, partial in zip(full, part["data"], strict=True):
        assert set(partial) <= {"id", "state", "order_payment"}
        assert partial["id"] == whole["id"]
        if "order_payment" in partial:
            assert set(partial["order_payment"]) <= {"rev_share"}
            assert set(partial["order_payment"].get("rev_share", {})) <= {"rev_share"}
    one = api.get(f"/orders/{full[0]['id']}", params={"fields": "full_address/*"}).json()["data"]
    assert set(one) == {"full_address"}
    assert one["full_address"] == full[0]["full_address"]
    assert api.get("/orders", params={"fields": "id,(state"}).status_code == 400


def test_parse_fields_syntax() -> None:
    from wishflow.sandbox.partial import parse_fields, project

    sel = parse_fields("title,items(id,info/name)")
    doc = {"title": "t", "x": 1, "items": [{"id": "1", "info": {"name": "n", "size": 2}, "y": 0}]}
    assert project(doc, sel) == {"title": "t", "items": [{"id": "1", "info": {"name": "n"}}]}
