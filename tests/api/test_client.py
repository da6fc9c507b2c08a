"""The Wish client's error table, token refresh and redaction, with httpx.MockTransport.

(The same behaviours run over real HTTP against the sandbox in tests/flows.)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import httpx
import orjson
import pytest
from pydantic import SecretStr

from wishflow.api.auth import AppCredentials, TokenSet
from wishflow.api.client import RetryPolicy, WishClient, parse_reset, redact_url, reset_delay
from wishflow.api.errors import (
    ErrorAction,
    WishAuthError,
    WishConfigError,
    WishError,
    WishNotFound,
    WishRateLimited,
    WishRequestError,
    WishRetryableError,
    WishUncertainWriteError,
    WishWriteInProgress,
    classify,
    is_retryable,
)

SECRET = "tok_live_0123456789abcdef"
REFRESH = "ref_live_fedcba9876543210"
CLIENT_SECRET = "cs_live_topsecret"


def envelope(data: object, code: int = 0, message: str = "") -> bytes:
    return orjson.dumps({"code": code, "message": message, "data": data})


class FakeClock:
    """An epoch clock that only moves when the client sleeps: no test waits for real."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(handler, clock: FakeClock | None = None, **kw) -> WishClient:  # type: ignore[no-untyped-def]
    clock = clock or FakeClock()
    return WishClient(
        "https://wish.test/api/v3",
        TokenSet(SecretStr(SECRET), SecretStr(REFRESH)),
        app=AppCredentials("app-id", SecretStr(CLIENT_SECRET)),
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        **kw,
    )


@pytest.mark.parametrize(
    ("status", "code", "action"),
    [
        (429, 1029, ErrorAction.RATE_LIMITED),
        (500, None, ErrorAction.RETRY),
        (502, None, ErrorAction.RETRY),
        (503, None, ErrorAction.RETRY),
        (401, 1012, ErrorAction.REFRESH_TOKEN),
        (401, 1007, ErrorAction.REFRESH_TOKEN),
        (400, 1008, ErrorAction.REFRESH_TOKEN),
        (400, 1006, ErrorAction.CONFIG_ERROR),
        (400, 10001, ErrorAction.CONFIG_ERROR),
        (400, 1002, ErrorAction.CONFIG_ERROR),
        (400, 1001, ErrorAction.FAIL),
        (400, 4242, ErrorAction.FAIL),
    ],
)
def test_error_table(status: int, code: int | None, action: ErrorAction) -> None:
    assert classify(status, code) is action


def test_success_returns_the_envelope_data() -> None:
    client = make_client(lambda _req: httpx.Response(200, content=envelope([{"id": "a"}])))
    assert client.list_orders() == [{"id": "a"}]


def test_5xx_raises_a_retryable_error() -> None:
    client = make_client(lambda _req: httpx.Response(503, content=b"upstream down"))
    with pytest.raises(WishRetryableError) as info:
        client.list_orders()
    assert is_retryable(info.value)


def test_malformed_json_on_a_read_is_retryable() -> None:
    client = make_client(lambda _req: httpx.Response(200, content=b'{"code": 0, "data": [{"id": '))
    with pytest.raises(WishRetryableError, match="not valid JSON"):
        client.list_orders()


def test_rejected_request_is_not_retryable() -> None:
    client = make_client(lambda _req: httpx.Response(400, content=orjson.dumps({"code": 1001, "message": "bad limit"})))
    with pytest.raises(WishRequestError, match="bad limit") as info:
        client.list_orders(limit=500)
    assert not is_retryable(info.value)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(400, 1004, WishNotFound), (404, None, WishNotFound), (400, 4006, WishWriteInProgress)],
)
def test_codes_callers_act_on_arrive_as_their_own_type(status: int, code: int | None, expected: type) -> None:
    """Callers catch a type (never match a message): not-found and write-in-progress have their own."""
    body = orjson.dumps({"code": code, "message": "whatever Wish says"}) if code else b"nope"
    client = make_client(lambda _req: httpx.Response(status, content=body))
    with pytest.raises(expected) as info:
        client.get_order("o-1")
    assert isinstance(info.value, WishRequestError)
    assert not is_retryable(info.value)
    assert info.value.code == code


def test_bad_app_credentials_are_a_configuration_error() -> None:
    client = make_client(lambda _req: httpx.Response(400, content=orjson.dumps({"code": 10001, "message": "nope"})))
    with pytest.raises(WishConfigError):
        client.list_orders()


def test_429_waits_for_the_reset_then_succeeds() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        if len(calls) == 1:
            reset = (datetime.now(UTC) + timedelta(milliseconds=200)).isoformat()
            return httpx.Response(
                429, headers={"Wish-Rate-Limit-Reset": reset}, content=orjson.dumps({"code": 1028, "message": "slow"})
            )
        return httpx.Response(200, headers={"Wish-Rate-Limit-Remaining": "9"}, content=envelope([]))

    client = make_client(handler)
    assert client.list_orders() == []
    assert len(calls) == 2
    assert client.rate_limit_remaining == 9


def test_429_beyond_the_wait_budget_raises_rate_limited() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Wish-Rate-Limit-Reset": "600"}, content=b'{"code":1028,"message":"x"}')

    client = make_client(handler, max_rate_limit_wait=1)
    with pytest.raises(WishRateLimited) as info:
        client.list_orders()
    assert info.value.reset_at is not None
    assert is_retryable(info.value)


def test_expired_token_is_refreshed_once_and_saved() -> None:
    saved: list[TokenSet] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/oauth/refresh_token"):
            assert req.url.params["refresh_token"] == REFRESH
            data = {
                "access_token": "new-access",
                "refresh_token": "new-refresh",
                "expiry_time": "2026-12-30T00:00:00.000Z",
                "merchant_id": "m",
                "scopes": [],
            }
            return httpx.Response(200, content=envelope(data))
        if req.headers["Authorization"] == "Bearer new-access":
            return httpx.Response(200, content=envelope([]))
        return httpx.Response(401, content=orjson.dumps({"code": 1012, "message": "token expired"}))

    client = make_client(handler, on_token_refresh=saved.append)
    assert client.list_orders() == []
    assert [t.access_token.get_secret_value() for t in saved] == ["new-access"]


def test_a_token_that_stays_rejected_after_refresh_raises_auth_error() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/oauth/refresh_token"):
            return httpx.Response(200, content=envelope({"access_token": "x", "refresh_token": "y"}))
        return httpx.Response(401, content=orjson.dumps({"code": 1012, "message": "bad token"}))

    with pytest.raises(WishAuthError):
        make_client(handler).list_orders()


def test_transport_failure_on_a_write_is_uncertain_not_retried() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    with pytest.raises(WishUncertainWriteError, match="outcome is unknown") as info:
        make_client(handler).ship_order("o1", tracking_number="A1", shipping_provider="USPS", origin_country="CN")
    assert len(calls) == 1
    assert not is_retryable(info.value)


def test_timeout_on_a_read_is_retryable() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(WishRetryableError, match="timed out"):
        make_client(handler).list_orders()


def test_secrets_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/oauth/refresh_token"):
            raise httpx.ConnectError(f"cannot connect to {req.url}")
        return httpx.Response(401, content=orjson.dumps({"code": 1012, "message": "expired"}))

    caplog.set_level(logging.DEBUG, logger="wishflow")
    client = make_client(handler)
    with pytest.raises(WishError) as info:
        client.list_orders()
    text = caplog.text + str(info.value) + repr(info.value) + repr(client)
    for secret in (SECRET, REFRESH, CLIENT_SECRET):
        assert secret not in text
    assert "/orders" in caplog.text  # requests are logged, just redacted


def test_redact_url_hides_secret_parameters() -> None:
    url = redact_url(f"https://x/api/v3/oauth/refresh_token?client_id=a&client_secret={CLIENT_SECRET}")
    assert CLIENT_SECRET not in url
    assert "client_id=a" in url


def test_parse_reset_accepts_epoch_iso_and_seconds() -> None:
    assert parse_reset("1767225600") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_reset("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    soon = parse_reset("2")
    assert soon is not None
    assert soon > datetime.now(UTC)
    assert parse_reset("garbage") is None


def test_server_now_follows_the_date_header_and_keeps_ticking() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Date": "Tue, 01 Jun 2027 09:00:00 GMT"}, content=envelope({}))

    client = make_client(handler)
    first = client.server_now()
    assert first >= datetime(2027, 6, 1, 9, tzinfo=UTC)
    assert client.server_now() >= first  # no stale clock on a long-lived client


# -- request-level resilience -----------------------------------------------------------------------


def rate_limited(reset: str | None) -> httpx.Response:
    headers = {"Wish-Rate-Limit-Reset": reset} if reset is not None else {}
    return httpx.Response(429, headers=headers, content=b'{"code":1029,"message":"slow down"}')


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("epoch_seconds", 5.0),
        ("epoch_millis", 5.0),
        ("seconds_to_wait", 5.0),
        ("http_date", 5.0),
        ("iso", 5.0),
        ("absent", None),
        ("garbage", None),
    ],
)
def test_a_429_is_waited_out_whatever_the_reset_format(fmt: str, expected: float | None) -> None:
    clock = FakeClock(1_800_000_000.0)
    at = clock.now + 5
    reset = {
        "epoch_seconds": str(int(at)),
        "epoch_millis": str(int(at * 1000)),
        "seconds_to_wait": "5",
        "http_date": formatdate(at, usegmt=True),
        "iso": datetime.fromtimestamp(at, UTC).isoformat(),
        "absent": None,
        "garbage": "soon-ish",
    }[fmt]
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return rate_limited(reset) if len(calls) == 1 else httpx.Response(200, content=envelope([]))

    client = make_client(handler, clock)
    assert client.list_orders() == []
    assert len(calls) == 2
    waited = sum(clock.sleeps)
    if expected is None:
        assert 0 < waited <= client.retry.cap  # no reset given: a jittered backoff, not a crash
    else:
        assert waited == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    "value", ["", "abc", "1e400", "-5", "nan", "inf", "99999999999999999999999", "Mon, 99 Foo 2026", "9999-99-99"]
)
def test_reset_delay_never_raises(value: str) -> None:
    delay = reset_delay(value, 1_800_000_000.0)
    assert delay is None or delay >= 0


def test_reset_delay_reads_milliseconds_that_used_to_crash() -> None:
    now = 1_800_000_000.0
    assert reset_delay(str(int((now + 2) * 1000)), now) == pytest.approx(2.0)
    assert parse_reset(str(int((now + 2) * 1000)), now) == datetime.fromtimestamp(now + 2, UTC)


def test_a_failing_read_is_retried_at_the_request_with_bounded_jittered_backoff() -> None:
    clock = FakeClock()
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        if len(calls) == 1:
            return httpx.Response(503, content=b"down")
        if len(calls) == 2:
            raise httpx.ReadTimeout("timed out")
        if len(calls) == 3:
            return httpx.Response(200, content=b'{"code": 0, "data": [{"id": ')
        return httpx.Response(200, content=envelope([{"id": "a"}]))

    client = make_client(handler, clock, retry=RetryPolicy(base=1.0, cap=4.0, max_elapsed=60))
    assert client.list_orders() == [{"id": "a"}]
    assert len(calls) == 4
    assert len(clock.sleeps) == 3
    assert all(0 <= s <= min(4.0, 2**i) for i, s in enumerate(clock.sleeps))
    assert client.retried_requests == 3


def test_a_read_gives_up_after_its_time_budget() -> None:
    clock = FakeClock()
    start = clock.now
    client = make_client(
        lambda _req: httpx.Response(502, content=b"bad gateway"), clock, retry=RetryPolicy(max_elapsed=30)
    )
    with pytest.raises(WishRetryableError):
        client.list_orders()
    assert clock.now - start <= 30
    assert len(clock.sleeps) > 3


def test_a_write_is_never_resent_after_a_5xx_but_is_after_a_429() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return httpx.Response(503, content=b"down")

    with pytest.raises(WishUncertainWriteError):
        make_client(handler).ship_order("o1", tracking_number="A1", shipping_provider="USPS", origin_country="CN")
    assert len(calls) == 1

    sent = []

    def limited_once(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        return rate_limited("2") if len(sent) == 1 else httpx.Response(200, content=envelope({"id": "o1"}))

    client = make_client(limited_once)
    assert client.ship_order("o1", tracking_number="A1", shipping_provider="USPS", origin_country="CN") == {"id": "o1"}
    assert len(sent) == 2  # Wish refused the first (429): it was never processed, so it is resent


def test_a_429_pauses_every_caller_of_the_client() -> None:
    clock = FakeClock()
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return rate_limited("10") if len(calls) == 1 else httpx.Response(200, content=envelope([]))

    client = make_client(handler, clock)
    client.pacer.pause_until(clock.now)  # nothing pending yet
    client.list_orders()
    # another thread asking right after the wait started would have been held until the reset
    client.pacer.pause_until(clock.now + 10)
    assert client.pacer.delay_for_next() == pytest.approx(10)


def test_the_pacer_caps_the_rate_across_callers() -> None:
    from wishflow.api.pacing import RequestPacer

    clock = FakeClock()
    pacer = RequestPacer(2.0, sleep=clock.sleep, clock=clock)
    for _ in range(10):
        pacer.acquire()
    # a one-second burst of 2, then one call every half second
    assert clock.now - 1_800_000_000.0 == pytest.approx(4.0)
