"""One place decides sandbox or live (wishflow/profile.py); the label source follows it; the tracking
file is checked row by row. Plain library tests (no Prefect, no HTTP).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wishflow.config import wish_settings_from_env
from wishflow.errors import ConfigError
from wishflow.profile import Profile, decide_profile
from wishflow.shipping.labels import SandboxLabels, TableLabels, choose_label_source
from wishflow.shipping.tracking_file import parse_tracking_rows, read_tracking_file

LIVE = "https://merchant.wish.com/api/v3"
LOOPBACK = "http://127.0.0.1:40123/api/v3"


@pytest.mark.parametrize(
    ("root", "requested", "expected"),
    [
        (None, None, Profile.EMBEDDED),
        ("http://127.0.0.1:8765/api/v3", None, Profile.EMBEDDED),
        (LOOPBACK, None, Profile.LIVE),  # a sandbox on another port is the sandbox only when asked for
        (LOOPBACK, "sandbox", Profile.SANDBOX),
        (LIVE, None, Profile.LIVE),
        (None, "live", Profile.LIVE),
        (LIVE, "SANDBOX", Profile.SANDBOX),
    ],
)
def test_one_place_decides_the_profile(root: str | None, requested: str | None, expected: Profile) -> None:
    assert decide_profile(root, requested) is expected


def test_live_root_without_token_is_a_configuration_error_never_the_sandbox() -> None:
    with pytest.raises(ConfigError) as info:
        wish_settings_from_env({"WISH_API_BASE_URL": LIVE})
    assert "WISH_ACCESS_TOKEN" in info.value.line()
    assert "wishflow auth login" in info.value.line()
    with pytest.raises(ConfigError):
        wish_settings_from_env({"WISH_API_BASE_URL": LOOPBACK})
    # the embedded default and the explicit sandbox profile keep the sandbox's seed credentials
    assert wish_settings_from_env({}).access_token.get_secret_value()
    sandbox = wish_settings_from_env({"WISH_API_BASE_URL": LOOPBACK, "WISHFLOW_PROFILE": "sandbox"})
    assert sandbox.api_base_url == LOOPBACK
    assert sandbox.access_token.get_secret_value()
    given = wish_settings_from_env({"WISH_API_BASE_URL": LIVE, "WISH_ACCESS_TOKEN": "t"})
    assert given.access_token.get_secret_value() == "t"
    with pytest.raises(ConfigError, match="not an http"):
        wish_settings_from_env({"WISH_API_BASE_URL": "merchant.wish.com", "WISH_ACCESS_TOKEN": "t"})


def test_label_source_follows_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WISHFLOW_PROFILE", raising=False)
    assert isinstance(choose_label_source(None, None, "http://127.0.0.1:8765/api/v3"), SandboxLabels)
    for kind in (None, "sandbox"):
        with pytest.raises(ConfigError) as info:
            choose_label_source(kind, None, LIVE)
        assert "--tracking-file" in info.value.line()
    table = tmp_path / "labels.csv"
    table.write_text("order_id,tracking_number\n")
    assert isinstance(choose_label_source("table", str(table), LIVE), TableLabels)
    with pytest.raises(ConfigError, match="label_table_path is empty"):
        choose_label_source("table", None, LIVE)
    monkeypatch.setenv("WISHFLOW_PROFILE", "sandbox")
    assert isinstance(choose_label_source(None, None, LOOPBACK), SandboxLabels)


def test_the_shipping_policy_block_has_no_sandbox_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from blocks.shipping import ShippingPolicy

    # a live setup: no WISHFLOW_PROFILE (an in-process demo or sandbox test may have left one behind)
    monkeypatch.delenv("WISHFLOW_PROFILE", raising=False)
    assert ShippingPolicy().label_provider is None
    with pytest.raises(ConfigError, match="no label source"):
        ShippingPolicy().label_source(LIVE)
    with pytest.raises(ConfigError, match="label_provider 'sandbox'"):
        ShippingPolicy(label_provider="sandbox").label_source(LIVE)
    # the live profile asked for by name: even a loopback root gets no sandbox labels
    monkeypatch.setenv("WISHFLOW_PROFILE", "live")
    with pytest.raises(ConfigError, match="no label source"):
        ShippingPolicy().label_source(LOOPBACK)


def test_tracking_file_rows_are_checked_one_by_one(tmp_path: Path) -> None:
    rows = [
        {"order_id": "a", "carrier": "YunExpress", "tracking_number": "YT1000000000000001"},
        {"order_id": "b", "carrier": "USPS", "tracking_number": "9400111899562537683012"},
        {"order_id": "c", "carrier": "YunExpress", "tracking_number": "YT12"},  # wrong format
        {"order_id": "", "carrier": "USPS", "tracking_number": "9400111899562537683013"},  # no order
        {"order_id": "a", "carrier": "YunExpress", "tracking_number": "YT1000000000000001"},  # same row again
        {"order_id": "a", "carrier": "YunExpress", "tracking_number": "YT1000000000000002"},  # a second number
        {"order_id": "d", "carrier": "YunExpress", "tracking_number": "YT1000000000000001"},  # a's number
        {"order_id": "", "carrier": "", "tracking_number": ""},  # blank line
        {"order_id": "e", "carrier": "USPS", "tracking_number": "94001-1189"},  # a dash
    ]
    parsed = parse_tracking_rows(rows)  # type: ignore[arg-type]
    assert [r.order_id for r in parsed.rows] == ["a", "b"]
    assert [(p.line, p.order_id) for p in parsed.problems] == [(4, "c"), (5, ""), (7, "a"), (8, "d"), (10, "e")]
    assert "YunExpress format" in parsed.problems[0].reason
    assert "order_id empty" in parsed.problems[1].reason
    assert parsed.by_carrier() == {"YunExpress": {"a": "YT1000000000000001"}, "USPS": {"b": "9400111899562537683012"}}

    path = tmp_path / "t.csv"
    path.write_text("\ufeffOrder_ID,Carrier,Tracking_Number\na,YunExpress,YT1000000000000001\n")
    assert [r.order_id for r in read_tracking_file(path).rows] == ["a"]
    path.write_text("order_id,tracking_number\na,YT1\n")
    with pytest.raises(ConfigError, match="lacks the column"):
        read_tracking_file(path)
    path.write_text("order_id,carrier,tracking_number\n")
    with pytest.raises(ConfigError, match="no rows"):
        read_tracking_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_tracking_file(tmp_path / "missing.csv")


def test_an_unreachable_api_root_is_a_configuration_error_inside_flows_too() -> None:
    """Scheduled runs meet it in the client (the CLI checks host:port before starting a flow)."""
    import httpx
    from pydantic import SecretStr

    from wishflow.api.auth import TokenSet
    from wishflow.api.client import WishClient
    from wishflow.api.errors import WishUnreachable, is_retryable

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    client = WishClient(
        "https://wish.example:8443/api/v3", TokenSet(SecretStr("t"), None), transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(WishUnreachable) as info:
        client.list_orders()
    assert isinstance(info.value, ConfigError)
    assert not is_retryable(info.value)
    assert "wish.example:8443" in info.value.line()
    assert "WISH_API_BASE_URL" in info.value.line()
