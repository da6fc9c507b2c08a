"""Write-behaviour profiles (wishflow/sandbox/write_profiles.py): each open question about tracking
writes answered each plausible way, chosen at start or through the admin API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from wishflow.sandbox import Sandbox, SandboxConfig
from wishflow.sandbox.errors import SandboxError
from wishflow.sandbox.write_profiles import PROFILES, resolve

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = "1Z999AA10123456784"
OTHER = "1Z999AA10123456785"


def _sandbox(profile: str | dict[str, Any]) -> Sandbox:
    return Sandbox(SandboxConfig(seed=3, start_time=START, ship_processing_seconds=2, write_profile=profile))


def _order(sb: Sandbox) -> str:
    return sb.create_orders(
        [
            {
                "fulfillment_order_types": ["FULFILLED_BY_STORE"],
                "full_address": {"shipping_detail": {"country_code": "US", "country": "United States"}},
            }
        ]
    )[0]


def _ship(sb: Sandbox, oid: str, number: str = NUMBER) -> dict[str, Any]:
    body = {"tracking_number": number, "shipping_provider": "UPS", "origin_country": "CN"}
    return orjson.loads(sb.ship(oid, body))


def _numbers(doc: dict[str, Any]) -> list[str]:
    return [t["tracking_number"] for t in doc.get("tracking_information") or []]


def _applied(sb: Sandbox, oid: str) -> list[str]:
    return [
        w["body"]["tracking_number"]
        for w in sb.writes(oid)
        if w["endpoint"] == "tracking" and w.get("processing_status") == "SUCCEEDED"
    ]


@pytest.mark.parametrize(
    ("profile", "shows"),
    [("default", "new"), ("old-response", "old"), ("queued", "queued"), ("empty-hidden", "empty")],
)
def test_the_write_response_shows_what_the_profile_says(profile: str, shows: str) -> None:
    sb = _sandbox(profile)
    oid = _order(sb)
    response = _ship(sb, oid)
    if shows == "empty":
        assert response == {}
    elif shows == "new":
        assert _numbers(response) == [NUMBER]
        assert response["processing_status"] == "IN_PROGRESS"
    elif shows == "old":
        assert _numbers(response) == []
        assert response.get("processing_status") is None
    else:
        assert _numbers(response) == []
        assert response["processing_status"] == "IN_PROGRESS"


@pytest.mark.parametrize(("profile", "view"), [("default", "new"), ("queued", "queued"), ("empty-hidden", "hidden")])
def test_reads_while_processing_then_one_applied_write(profile: str, view: str) -> None:
    sb = _sandbox(profile)
    oid = _order(sb)
    _ship(sb, oid)
    during = sb.get_order(oid)
    if view == "new":
        assert _numbers(during) == [NUMBER]
        assert during["processing_status"] == "IN_PROGRESS"
    elif view == "queued":
        assert _numbers(during) == []
        assert during["processing_status"] == "IN_PROGRESS"
    else:
        assert _numbers(during) == []
        assert during.get("processing_status") is None
    sb.advance(2)
    done = sb.get_order(oid)
    assert done["state"] == "SHIPPED"
    assert _numbers(done) == [NUMBER]
    assert done["processing_status"] == "SUCCEEDED"
    assert _applied(sb, oid) == [NUMBER]


@pytest.mark.parametrize(("profile", "seconds"), [("slow-minutes", 180), ("slow-hours", 7200)])
def test_processing_takes_minutes_or_hours_on_the_sandbox_clock(profile: str, seconds: int) -> None:
    sb = _sandbox(profile)
    oid = _order(sb)
    _ship(sb, oid)
    sb.advance(seconds - 1)
    assert sb.get_order(oid)["state"] == "APPROVED"
    assert _applied(sb, oid) == []
    sb.advance(1)
    assert sb.get_order(oid)["state"] == "SHIPPED"
    assert _applied(sb, oid) == [NUMBER]


def test_busy_order_rejects_queues_or_lets_the_last_write_win() -> None:
    sb = _sandbox("default")
    oid = _order(sb)
    _ship(sb, oid)
    with pytest.raises(SandboxError) as err:
        _ship(sb, oid, OTHER)
    assert err.value.code == 4006

    sb = _sandbox("busy-queue")
    oid = _order(sb)
    _ship(sb, oid)
    _ship(sb, oid, OTHER)
    sb.advance(60)
    assert _applied(sb, oid) == [NUMBER]
    assert sb.get_order(oid)["processing_status"] == "IN_PROGRESS"
    sb.advance(60)
    assert _applied(sb, oid) == [NUMBER, OTHER]
    assert _numbers(sb.get_order(oid)) == [OTHER, NUMBER]

    sb = _sandbox("busy-last-wins")
    oid = _order(sb)
    _ship(sb, oid)
    _ship(sb, oid, OTHER)
    sb.advance(120)
    assert _applied(sb, oid) == [OTHER]
    assert _numbers(sb.get_order(oid)) == [OTHER]
    assert [w["processing_status"] for w in sb.writes(oid)] == ["SUPERSEDED", "SUCCEEDED"]


def test_async_failure_is_visible_only_on_read_back_with_its_reason() -> None:
    sb = _sandbox({"name": "async-failure", "failure_share": 1.0})
    oid = _order(sb)
    response = _ship(sb, oid)
    assert response["processing_status"] == "IN_PROGRESS"  # accepted: nothing says it will fail
    sb.advance(2)
    order = sb.get_order(oid)
    assert order["state"] == "APPROVED"
    assert order["processing_status"] == "FAILED"
    assert _numbers(order) == []
    assert order["processing_failed_reason"]
    assert _applied(sb, oid) == []
    assert sb.writes(oid)[0]["processing_status"] == "FAILED"


def test_same_number_twice_is_a_second_modification_or_a_no_op() -> None:
    for profile, applied, outcomes in (
        ("default", [NUMBER, NUMBER], ["accepted", "accepted"]),
        ("same-number-noop", [NUMBER], ["accepted", "no-op"]),
    ):
        sb = _sandbox(profile)
        oid = _order(sb)
        _ship(sb, oid)
        sb.advance(2)
        _ship(sb, oid)
        sb.advance(2)
        assert _applied(sb, oid) == applied, profile
        assert [w["outcome"] for w in sb.writes(oid)] == outcomes


def test_profiles_resolve_by_name_or_knobs_and_refuse_unknowns() -> None:
    assert resolve("slow-hours").processing_seconds == 7200
    custom = resolve({"name": "queued", "processing_seconds": 30})
    assert custom.view == "queued"
    assert custom.processing_seconds == 30
    for bad in ("nope", {"view": "sideways"}, {"colour": "red"}, {"failure_share": 2}):
        with pytest.raises(ValueError, match="write profile"):
            resolve(bad)  # type: ignore[arg-type]
    assert "default" in PROFILES
    assert resolve(None) == PROFILES["default"]


def test_admin_api_switches_the_profile(running) -> None:  # type: ignore[no-untyped-def]
    base = running.base_url
    try:
        got = httpx.put(f"{base}/sandbox/write_profile", json={"name": "slow-hours"}).json()
        assert got["profile"]["processing_seconds"] == 7200
        assert httpx.get(f"{base}/sandbox/write_profile").json()["profile"]["name"] == "slow-hours"
        bad = httpx.put(f"{base}/sandbox/write_profile", json={"name": "nope"})
        assert bad.status_code == 400
    finally:
        httpx.put(f"{base}/sandbox/write_profile", json={"name": "default"}).raise_for_status()
