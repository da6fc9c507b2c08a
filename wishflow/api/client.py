"""A typed HTTP client for the Wish Merchant API v3.

One place decides what every response means: the envelope is checked after the status, errors are
classified by :mod:`wishflow.api.errors`, a 429 waits for ``Wish-Rate-Limit-Reset``, an expired
token is refreshed once, and transport failures become typed errors. Requests are logged with
credentials redacted. Bodies are parsed with orjson (stdlib json is ~60% of a pull's time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from wishflow.api.auth import AppCredentials, TokenSaver, TokenSet
from wishflow.api.errors import (
    EXCEPTION_FOR_ACTION,
    ErrorAction,
    WishAuthError,
    WishError,
    WishRateLimited,
    WishRetryableError,
    WishUncertainWriteError,
    WishUnreachable,
    classify,
)
from wishflow.orders.flatten import format_wish_time

logger = logging.getLogger("wishflow.api")

SECRET_PARAMS = frozenset({"client_secret", "refresh_token", "access_token", "code"})
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def redact_url(url: httpx.URL | str) -> str:
    """The URL with secret query parameters replaced by ``***``."""
    parsed = httpx.URL(str(url))
    if not parsed.query:
        return str(parsed)
    params = [(k, "***" if k in SECRET_PARAMS else v) for k, v in parsed.params.multi_items()]
    return str(parsed.copy_with(query=urlencode(params).encode()))


def parse_reset(value: str | None) -> datetime | None:
    """``Wish-Rate-Limit-Reset`` as a datetime; accepts epoch seconds or an ISO 8601 timestamp."""
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number < 10_000_000:  # a number of seconds to wait rather than an epoch time
        return datetime.fromtimestamp(time.time() + number, UTC)
    return datetime.fromtimestamp(number, UTC)


def _wish_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_wish_time(value)


class WishClient:
    """The Wish Merchant API v3 over httpx.

    ``base_url`` is the API root including ``/api/v3``. Rate limiting: a 429 is waited out (up to
    ``max_rate_limit_wait`` seconds in total per request) because waiting is the only thing that
    helps; every other failure is raised for the caller's retry policy to decide.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenSet,
        *,
        app: AppCredentials | None = None,
        on_token_refresh: TokenSaver | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_rate_limit_wait: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        write_settle_seconds: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        read_timeout = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
        #: After a write whose outcome is unknown, how long it may still take effect at Wish (a request
        #: we gave up on can be processed late). Read-backs before then cannot prove it never landed.
        #: Default: twice the read timeout, so a request slower than that would have timed out twice.
        self.write_settle_seconds = (
            write_settle_seconds if write_settle_seconds is not None else 2 * float(read_timeout or 30.0)
        )
        self._tokens = tokens
        self._app = app
        self._on_token_refresh = on_token_refresh
        self.max_rate_limit_wait = max_rate_limit_wait
        self.rate_limit_remaining: int | None = None
        self.server_date: datetime | None = None
        self._server_date_seen = 0.0
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            headers={"Accept": "application/json", "User-Agent": "wishflow/0.1"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WishClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WishClient(base_url={self.base_url!r})"

    # -- transport -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        write: bool = False,
    ) -> Any:
        """Send one request and return the envelope's ``data``; raise a :class:`WishError` otherwise.

        ``write=True`` marks a non-idempotent call: a transport failure after sending becomes
        :class:`WishUncertainWriteError` (read back before retrying), never a silent retry.
        """
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        refreshed = False
        waited = 0.0
        while True:
            headers = {}
            if auth:
                headers["Authorization"] = f"Bearer {self._tokens.access_token.get_secret_value()}"
            content = orjson.dumps(json) if json is not None else None
            if content is not None:
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                response = self._http.request(method, path, params=clean, content=content, headers=headers)
                body = response.read()
            except httpx.TimeoutException as exc:
                self._raise_transport(method, path, exc, write, "timed out")
            except httpx.ConnectError:
                # nothing was sent: the API root itself cannot be reached (a configuration mistake)
                url = httpx.URL(self.base_url)
                raise WishUnreachable(
                    f"cannot reach the Wish API at {url.host}:{url.port or (443 if url.scheme == 'https' else 80)} "
                    "(connection refused or unknown host)"
                ) from None
            except httpx.TransportError as exc:
                self._raise_transport(method, path, exc, write, "connection failed")
            elapsed_ms = (time.perf_counter() - started) * 1000
            request_id = response.headers.get("Wish-Request-Id")
            self._note_server_date(response.headers.get("Date"))
            remaining = response.headers.get("Wish-Rate-Limit-Remaining")
            if remaining is not None and remaining.isdigit():
                self.rate_limit_remaining = int(remaining)
            logger.debug(
                "%s %s -> %s in %.0f ms (request id %s)",
                method,
                redact_url(response.request.url),
                response.status_code,
                elapsed_ms,
                request_id,
            )
            if response.status_code == 200:
                return self._data(method, path, body, request_id, write)
            code, message = self._error_body(body)
            action = classify(response.status_code, code)
            if action is ErrorAction.RATE_LIMITED:
                reset_at = parse_reset(response.headers.get("Wish-Rate-Limit-Reset"))
                delay = 1.0 if reset_at is None else max(0.05, (reset_at - datetime.now(UTC)).total_seconds())
                if waited + delay <= self.max_rate_limit_wait:
                    logger.info("rate limited on %s %s; waiting %.2f s", method, path, delay)
                    time.sleep(delay)
                    waited += delay
                    continue
                raise WishRateLimited(
                    f"{method} {path}: rate limited (Wish code {code}): {message}",
                    reset_at=reset_at,
                    status=response.status_code,
                    code=code,
                    request_id=request_id,
                )
            if action is ErrorAction.REFRESH_TOKEN:
                if not refreshed and self.can_refresh:
                    self.refresh_access_token()
                    refreshed = True
                    continue
                raise WishAuthError(
                    f"{method} {path}: not authorised (HTTP {response.status_code}, Wish code {code}): "
                    f"{message}. Check the access token or configure the refresh token and app credentials.",
                    status=response.status_code,
                    code=code,
                    request_id=request_id,
                )
            if write and action is ErrorAction.RETRY:
                # A 5xx on a write may or may not have been applied: treat it as uncertain.
                raise WishUncertainWriteError(
                    f"{method} {path}: HTTP {response.status_code} on a write; its outcome is unknown",
                    status=response.status_code,
                    code=code,
                    request_id=request_id,
                )
            raise EXCEPTION_FOR_ACTION[action](
                f"{method} {path}: HTTP {response.status_code}, Wish code {code}: {message}",
                status=response.status_code,
                code=code,
                request_id=request_id,
            )

    def _note_server_date(self, value: str | None) -> None:
        if not value:
            return
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return
        self.server_date = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        self._server_date_seen = time.monotonic()

    def server_now(self) -> datetime:
        """Wish's idea of now, so windows follow the server's clock, not ours.

        The last ``Date`` header seen plus the time elapsed since (one cheap request first if none
        was seen yet). ``Date`` has whole seconds, so this can trail by up to a second.
        """
        if self.server_date is None:
            self.test_token()
        if self.server_date is None:
            return datetime.now(UTC)
        return self.server_date + timedelta(seconds=time.monotonic() - self._server_date_seen)

    @staticmethod
    def _raise_transport(method: str, path: str, exc: Exception, write: bool, what: str) -> Any:
        kind = type(exc).__name__
        if write:
            raise WishUncertainWriteError(
                f"{method} {path}: {what} ({kind}) after the write was sent; its outcome is unknown"
            ) from None
        raise WishRetryableError(f"{method} {path}: {what} ({kind})") from None

    @staticmethod
    def _error_body(body: bytes) -> tuple[int | None, str]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None, body[:200].decode(errors="replace")
        if not isinstance(parsed, dict):
            return None, str(parsed)[:200]
        code = parsed.get("code")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        return code, str(parsed.get("message", ""))[:500]

    @staticmethod
    def _data(method: str, path: str, body: bytes, request_id: str | None, write: bool) -> Any:
        try:
            envelope = orjson.loads(body)
        except orjson.JSONDecodeError:
            cls = WishUncertainWriteError if write else WishRetryableError
            raise cls(f"{method} {path}: response body is not valid JSON", request_id=request_id) from None
        if not isinstance(envelope, dict) or "data" not in envelope:
            cls = WishUncertainWriteError if write else WishRetryableError
            raise cls(f"{method} {path}: response is not a Wish envelope", request_id=request_id)
        code = envelope.get("code", 0)
        if code not in (0, "0", None):
            raise WishError(
                f"{method} {path}: Wish code {code}: {envelope.get('message')}",
                code=None,
                request_id=request_id,
            )
        return envelope["data"]

    # -- auth ------------------------------------------------------------------------------------

    @property
    def can_refresh(self) -> bool:
        return self._app is not None and self._tokens.refresh_token is not None

    def refresh_access_token(self) -> TokenSet:
        """Exchange the refresh token for a new token set (Wish revokes the old access token)."""
        if self._app is None or self._tokens.refresh_token is None:
            raise WishAuthError("cannot refresh the access token: no refresh token or app credentials")
        data = self.request(
            "GET",
            "/oauth/refresh_token",
            params={
                "client_id": self._app.client_id,
                "client_secret": self._app.client_secret.get_secret_value(),
                "refresh_token": self._tokens.refresh_token.get_secret_value(),
                "grant_type": "refresh_token",
            },
            auth=False,
        )
        from pydantic import SecretStr

        expiry = data.get("expiry_time")
        new = TokenSet(
            access_token=SecretStr(str(data["access_token"])),
            refresh_token=SecretStr(str(data.get("refresh_token") or self._tokens.refresh_token.get_secret_value())),
            expires_at=datetime.fromisoformat(expiry.replace("Z", "+00:00")) if isinstance(expiry, str) else None,
        )
        self._tokens = new
        logger.info("access token refreshed; the previous token is now revoked")
        if self._on_token_refresh is not None:
            self._on_token_refresh(new)
        return new

    def test_token(self) -> Any:
        """``GET /oauth/test``: check that the token works."""
        return self.request("GET", "/oauth/test")

    # -- orders ----------------------------------------------------------------------------------

    def list_orders(
        self,
        *,
        limit: int = 500,
        updated_at_min: datetime | str | None = None,
        updated_at_max: datetime | str | None = None,
        released_at_min: datetime | str | None = None,
        released_at_max: datetime | str | None = None,
        states: Sequence[str] | None = None,
        sort_by: str = "updated_at.asc",
    ) -> list[Any]:
        """One page of ``GET /orders`` (raw payloads; see :mod:`wishflow.api.pagination`)."""
        data = self.request(
            "GET",
            "/orders",
            params={
                "limit": limit,
                "updated_at_min": _wish_time(updated_at_min),
                "updated_at_max": _wish_time(updated_at_max),
                "released_at_min": _wish_time(released_at_min),
                "released_at_max": _wish_time(released_at_max),
                "states": ",".join(states) if states else None,
                "sort_by": sort_by,
            },
        )
        if not isinstance(data, list):
            raise WishRetryableError("GET /orders: data is not a list")
        return data

    def get_order(self, order_id: str) -> dict[str, Any]:
        data = self.request("GET", f"/orders/{order_id}")
        if not isinstance(data, dict):
            raise WishRetryableError(f"GET /orders/{order_id}: data is not an object")
        return data

    def shipping_carriers(self, order_type: str = "GENERAL", dest_country_code: str | None = None) -> list[str]:
        data = self.request(
            "GET",
            "/orders/shipping_carriers",
            params={"order_type": order_type, "dest_country_code": dest_country_code},
        )
        return [c["name"] if isinstance(c, dict) else str(c) for c in data or []]

    def ship_order(
        self,
        order_id: str,
        *,
        tracking_number: str,
        shipping_provider: str,
        origin_country: str,
        ship_note: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /orders/{id}/tracking`` (asynchronous at Wish, no idempotency key: see shipping)."""
        body: dict[str, Any] = {
            "tracking_number": tracking_number,
            "shipping_provider": shipping_provider,
            "origin_country": origin_country,
        }
        if ship_note:
            body["ship_note"] = ship_note
        return self.request("PUT", f"/orders/{order_id}/tracking", json=body, write=True)  # type: ignore[no-any-return]

    def modify_address(self, order_id: str, address: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/orders/{order_id}/address", json=dict(address), write=True)  # type: ignore[no-any-return]

    def refund_reasons(self, order_id: str) -> list[str]:
        return list(self.request("GET", f"/orders/{order_id}/refund_reasons") or [])

    def refund_order(self, order_id: str, reason: str, note: str | None = None) -> dict[str, Any]:
        body = {"refund_reason": reason, **({"refund_reason_note": note} if note else {})}
        return self.request("PUT", f"/orders/{order_id}/refund", json=body, write=True)  # type: ignore[no-any-return]

    # -- after-sales -----------------------------------------------------------------------------

    def list_tickets(self, **params: Any) -> list[Any]:
        return list(self.request("GET", "/tickets", params=params) or [])

    def list_penalties(self, **params: Any) -> list[Any]:
        return list(self.request("GET", "/penalties", params=params) or [])


__all__ = ["WishClient", "WishError", "redact_url", "parse_reset"]
