"""A typed HTTP client for the Wish Merchant API v3.

One place decides what every response means: the envelope is checked after the status, errors are
classified by :mod:`wishflow.api.errors`, an expired token is refreshed once, and transport failures
become typed errors. Requests are logged with credentials redacted. Bodies are parsed with orjson
(stdlib json is ~60% of a pull's time).

Retry layers, one per concern (nothing else retries a request):

1. **This client, per request.** Every request waits its turn at the client's one
   :class:`~wishflow.api.pacing.RequestPacer` (shared by every thread holding the client). A 429 is
   waited out until ``Wish-Rate-Limit-Reset`` (any format, see :func:`reset_delay`), pausing every
   caller, and then sent again: Wish refused it, so even a write is safe to resend. An idempotent read
   (a GET, or a call marked ``idempotent=True`` such as creating a download job) is retried on 5xx,
   timeouts, dropped connections and garbled bodies with jittered exponential backoff, all within
   ``RetryPolicy.max_elapsed`` seconds. A write is never resent after it may have reached Wish: a 5xx
   or transport failure raises :class:`WishUncertainWriteError`.
2. **The shipping outbox** decides about uncertain writes (reads the order back, never resends blindly).
3. **Prefect task retries** handle what a request cannot: a failure that outlasted the client's budget,
   a lost process. Retried pull chunks resume from their last committed page.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import orjson
from pydantic import SecretStr

from wishflow.api.auth import AppCredentials, TokenSaver, TokenSet, token_set_from_payload
from wishflow.api.errors import (
    ErrorAction,
    WishAuthError,
    WishError,
    WishRateLimited,
    WishRetryableError,
    WishUncertainWriteError,
    WishUnreachable,
    classify,
    exception_for,
)
from wishflow.api.pacing import RequestPacer
from wishflow.api.token_refresh import SingleFlightRefresher, TokenPersistence
from wishflow.orders.flatten import format_wish_time
from wishflow.orders.records import OrderRecord, order_records

#: Reads a 200 answer's body: (method, path, body, request id, write) -> the answer's data.
DataDecoder = Callable[[str, str, bytes, "str | None", bool], Any]


class _Envelope(msgspec.Struct):
    """Wish's answer envelope, its ``data`` left as bytes (an empty ``Raw`` when absent)."""

    code: Any = 0
    message: Any = None
    data: msgspec.Raw = msgspec.Raw()


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def _order_records_data(method: str, path: str, body: bytes, request_id: str | None, write: bool) -> list[OrderRecord]:
    """A list answer's ``data`` as :class:`OrderRecord` s, judged as ``_data`` and ``list_orders`` judge it."""
    del write  # a read
    try:
        envelope = _ENVELOPE.decode(body)
    except msgspec.ValidationError:  # JSON, not an object (a subclass of DecodeError: caught first)
        raise WishRetryableError(f"{method} {path}: response is not a Wish envelope", request_id=request_id) from None
    except msgspec.DecodeError:
        raise WishRetryableError(f"{method} {path}: response body is not valid JSON", request_id=request_id) from None
    if not len(envelope.data):
        raise WishRetryableError(f"{method} {path}: response is not a Wish envelope", request_id=request_id)
    if envelope.code not in (0, "0", None):
        message = f"{method} {path}: Wish code {envelope.code}: {envelope.message}"
        raise WishError(message, code=None, request_id=request_id)
    try:
        return order_records(envelope.data)
    except msgspec.ValidationError:
        raise WishRetryableError(f"{method} {path}: data is not a list") from None
    except msgspec.DecodeError:
        raise WishRetryableError(f"{method} {path}: response body is not valid JSON", request_id=request_id) from None


logger = logging.getLogger("wishflow.api")

SECRET_PARAMS = frozenset({"client_secret", "refresh_token", "access_token", "code"})
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: How often one call may swap its token after an auth failure (adopt another's refresh, then refresh).
MAX_AUTH_RECOVERIES = 2


def redact_url(url: httpx.URL | str) -> str:
    """The URL with secret query parameters replaced by ``***``."""
    parsed = httpx.URL(str(url))
    if not parsed.query:
        return str(parsed)
    params = [(k, "***" if k in SECRET_PARAMS else v) for k, v in parsed.params.multi_items()]
    return str(parsed.copy_with(query=urlencode(params).encode()))


class _RedactHttpxUrls(logging.Filter):
    """httpx logs every request's full URL at INFO: the OAuth calls carry secrets in their query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _install_httpx_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactHttpxUrls())


_install_httpx_redaction()


#: Above this, a bare number in ``Wish-Rate-Limit-Reset`` is an epoch time, not seconds to wait
#: (10^9 s is 2001; nobody asks a client to wait 30 years).
_EPOCH_SECONDS_MIN = 1_000_000_000
#: Above this, an epoch time is in milliseconds (10^11 s is the year 5138).
_EPOCH_MILLIS_MIN = 100_000_000_000


def _reset_epoch(value: str | None, now: float) -> float | None:
    """``Wish-Rate-Limit-Reset`` as an epoch time, or ``None`` if absent or unreadable; never raises."""
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number in (float("inf"), float("-inf")) or number < 0:
            return None
        if number >= _EPOCH_MILLIS_MIN:
            return number / 1000
        if number >= _EPOCH_SECONDS_MIN:
            return number
        return now + number
    when: datetime | None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def reset_delay(value: str | None, now: float) -> float | None:
    """Seconds to wait for ``Wish-Rate-Limit-Reset`` at epoch time ``now``; ``None`` if absent or unreadable.

    Wish does not document the format, so every plausible one is read: epoch seconds, epoch
    milliseconds, a number of seconds to wait, an HTTP date or an ISO 8601 timestamp. Never raises.
    A reset in the past is a wait of zero.
    """
    at = _reset_epoch(value, now)
    return None if at is None else max(0.0, at - now)


def parse_reset(value: str | None, now: float | None = None) -> datetime | None:
    """``Wish-Rate-Limit-Reset`` as a datetime (see :func:`reset_delay` for the formats); never raises."""
    at = _reset_epoch(value, time.time() if now is None else now)
    if at is None:
        return None
    try:
        return datetime.fromtimestamp(at, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How an idempotent read is retried at the request (layer 1 in the module docstring).

    Backoff before attempt n+1 is a random wait in ``[0, min(cap, base * 2**n)]`` ("full jitter": many
    callers hitting one fault do not come back in step); the whole request, waits included, gives
    up after ``max_elapsed`` seconds and raises the last error for the task's retry to decide.
    """

    base: float = 0.25
    cap: float = 8.0
    max_elapsed: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap, self.base * (2 ** min(attempt, 30))))


def _wish_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format_wish_time(value)


class WishClient:
    """The Wish Merchant API v3 over httpx.

    ``base_url`` is the API root including ``/api/v3``. Rate limiting: a 429 is waited out (up to
    ``max_rate_limit_wait`` seconds in total per request) because waiting is the only thing that
    helps; idempotent reads are retried per ``retry`` (see the module docstring for the layers).
    ``max_rate`` caps requests per second across every thread using the client. ``sleep``, ``clock``
    (epoch seconds) and ``rng`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenSet,
        *,
        app: AppCredentials | None = None,
        on_token_refresh: TokenSaver | None = None,
        token_persistence: TokenPersistence | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_rate_limit_wait: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        write_settle_seconds: float | None = None,
        retry: RetryPolicy | None = None,
        max_rate: float | None = None,
        pacer: RequestPacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        read_timeout = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
        #: After a write whose outcome is unknown, how long it may still take effect at Wish (a request
        #: we gave up on can be processed late). Read-backs before then cannot prove it never landed.
        #: Default: twice the read timeout, so a request slower than that would have timed out twice.
        self.write_settle_seconds = (
            write_settle_seconds if write_settle_seconds is not None else 2 * float(read_timeout or 30.0)
        )
        self._auth = SingleFlightRefresher(
            tokens,
            app=app,
            exchange=self._exchange_refresh_token,
            persistence=token_persistence,
            on_refresh=on_token_refresh,
        )
        self.max_rate_limit_wait = max_rate_limit_wait
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        #: the one pacer every request of this client waits at (see :mod:`wishflow.api.pacing`)
        self.pacer = pacer or RequestPacer(max_rate, sleep=sleep, clock=clock)
        #: requests sent again by the client (read retries and 429 waits), for run summaries
        self.retried_requests = 0
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
        """Close the HTTP connection pool."""
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
        idempotent: bool | None = None,
        decode: DataDecoder | None = None,
    ) -> Any:
        """Send a request and return the envelope's ``data``; raise a :class:`WishError` otherwise.

        ``decode`` reads a 200 answer's body instead of :meth:`_data` (the order list's typed records).

        ``write=True`` marks a non-idempotent call: a transport failure after sending becomes
        :class:`WishUncertainWriteError` (read back before retrying), never a silent retry.
        ``idempotent`` (default: an authenticated GET that is not a write; the unauthenticated OAuth
        calls rotate tokens, so they are never resent) allows retrying transient failures here,
        with jittered exponential backoff within ``self.retry.max_elapsed`` seconds. A 429 is waited
        out for any call (Wish did not process it), within ``max_rate_limit_wait`` seconds in total.
        """
        retry_reads = (method == "GET" and auth and not write) if idempotent is None else idempotent
        started = self._clock()
        attempt = 0
        rate_waited = 0.0
        while True:
            self.pacer.acquire()
            try:
                return self._send(method, path, params=params, json=json, auth=auth, write=write, decode=decode)
            except WishRateLimited as exc:
                delay = exc.retry_after
                if delay is None:
                    delay = self._backoff(attempt)
                delay = max(delay, 0.05)
                if rate_waited + delay > self.max_rate_limit_wait:
                    raise
                logger.info("rate limited on %s %s; every caller waits %.2f s", method, path, delay)
                self.pacer.pause_until(self._clock() + delay)
                rate_waited += delay
            except WishRetryableError as exc:
                if not retry_reads or isinstance(exc, WishUncertainWriteError):
                    raise
                delay = self._backoff(attempt)
                if self._clock() + delay - started > self.retry.max_elapsed:
                    raise
                logger.info("%s %s failed (%s); retrying in %.2f s", method, path, exc, delay)
                self._sleep(delay)
            attempt += 1
            self.retried_requests += 1

    def _backoff(self, attempt: int) -> float:
        with self._rng_lock:
            return self.retry.backoff(attempt, self._rng)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        write: bool = False,
        decode: DataDecoder | None = None,
    ) -> Any:
        """Send one request (refreshing an expired token once); no retries but the refresh."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        auth_recoveries = 0
        while True:
            headers = {}
            used = self._auth.current() if auth else None
            if used is not None:
                headers["Authorization"] = f"Bearer {used.access_token.get_secret_value()}"
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
                self.pacer.note_remaining(self.rate_limit_remaining)
            logger.debug(
                "%s %s -> %s in %.0f ms (request id %s)",
                method,
                redact_url(response.request.url),
                response.status_code,
                elapsed_ms,
                request_id,
            )
            if response.status_code == 200:
                return (decode or self._data)(method, path, body, request_id, write)
            code, message = self._error_body(body)
            action = classify(response.status_code, code)
            if action is ErrorAction.RATE_LIMITED:
                now = self._clock()
                delay = reset_delay(response.headers.get("Wish-Rate-Limit-Reset"), now)
                raise WishRateLimited(
                    f"{method} {path}: rate limited (Wish code {code}): {message}",
                    reset_at=parse_reset(response.headers.get("Wish-Rate-Limit-Reset"), now),
                    retry_after=delay,
                    status=response.status_code,
                    code=code,
                    request_id=request_id,
                )
            if action is ErrorAction.REFRESH_TOKEN:
                if used is not None and auth_recoveries < MAX_AUTH_RECOVERIES and self._auth.recover(used):
                    auth_recoveries += 1
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
            raise exception_for(action, response.status_code, code)(
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
        """Whether an expired access token can be refreshed (app credentials and a refresh token are known)."""
        return self._auth.can_refresh

    @property
    def tokens(self) -> TokenSet:
        """The token set in use (secrets stay ``SecretStr``)."""
        return self._auth.current()

    @property
    def token_refreshes(self) -> int:
        """How many times this client refreshed its token at Wish."""
        return self._auth.refresh_count

    def refresh_access_token(self) -> TokenSet:
        """Refresh the token now, single-flight with every other thread (Wish revokes the old one)."""
        return self._auth.force_refresh()

    def _exchange_refresh_token(self, app: AppCredentials, refresh_token: SecretStr) -> TokenSet:
        """``GET /oauth/refresh_token``: the HTTP half of a refresh (see :mod:`wishflow.api.token_refresh`)."""
        data = self.request(
            "GET",
            "/oauth/refresh_token",
            params={
                "client_id": app.client_id,
                "client_secret": app.client_secret.get_secret_value(),
                "refresh_token": refresh_token.get_secret_value(),
                "grant_type": "refresh_token",
            },
            auth=False,
            write=True,  # changes state at Wish (revokes / redeems): never resent blindly
        )
        return token_set_from_payload(data, refresh_token)

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
        typed: bool = False,
    ) -> list[Any]:
        """One page of ``GET /orders`` (raw payloads; see :mod:`wishflow.api.pagination`).

        ``typed``: the records come as :class:`~wishflow.orders.records.OrderRecord` s, each kept as
        its bytes and decoded typed, no dict made for a regular order (the pull's pages). The answer
        is judged alike either way (not JSON, not an envelope, a Wish code, ``data`` not a list).
        """
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
            decode=_order_records_data if typed else None,
        )
        if not isinstance(data, list):
            raise WishRetryableError("GET /orders: data is not a list")
        return data

    def download_orders(
        self,
        *,
        updated_at_min: datetime | str | None = None,
        updated_at_max: datetime | str | None = None,
        released_at_min: datetime | str | None = None,
        released_at_max: datetime | str | None = None,
        states: Sequence[str] | None = None,
        poll_seconds: float = 1.0,
        max_wait: float = 900.0,
    ) -> list[Any]:
        """Every order matching the filters, through Wish's batch download job (no page limit).

        ``POST /orders/bulk_get`` queues a job, ``GET /orders/bulk_get/{id}`` is polled until it is
        READY, then each of its ``file_urls`` is downloaded (a JSON array of orders, as ``GET /orders``
        returns them; our assumption, see the sandbox's STATUS.md). Creating a job changes nothing at
        Wish, so it is retried like a read. A job that fails (EXCEPTION) or is not READY within
        ``max_wait`` seconds raises :class:`WishRetryableError`: the caller's position is unchanged, so
        a retry starts a fresh job.
        """
        filters = {
            "updated_at_min": _wish_time(updated_at_min),
            "updated_at_max": _wish_time(updated_at_max),
            "released_at_min": _wish_time(released_at_min),
            "released_at_max": _wish_time(released_at_max),
            "states": ",".join(states) if states else None,
            "sort_by": "updated_at.asc",
        }
        job = self.request("POST", "/orders/bulk_get", params=filters, idempotent=True)
        job_id = job.get("id") if isinstance(job, dict) else None
        if not isinstance(job_id, str):
            raise WishRetryableError("POST /orders/bulk_get: the answer has no job id")
        deadline = self._clock() + max_wait
        while True:
            status = job.get("status") if isinstance(job, dict) else None
            if status == "READY":
                break
            if status == "EXCEPTION":
                raise WishRetryableError(f"download job {job_id} failed at Wish (EXCEPTION)")
            if self._clock() + poll_seconds > deadline:
                raise WishRetryableError(f"download job {job_id} not ready after {max_wait:.0f} s (status {status})")
            self._sleep(poll_seconds)
            job = self.request("GET", f"/orders/bulk_get/{job_id}")
        urls = job.get("file_urls") or []
        out: list[Any] = []
        for url in urls:
            out.extend(self._download_file(str(url)))
        total = job.get("total_count")
        if isinstance(total, int | float) and len(out) < total:
            raise WishRetryableError(f"download job {job_id}: {len(out)} orders in its files, {total:.0f} announced")
        return out

    def _download_file(self, url: str) -> list[Any]:
        """One file of a download job, retried like a read.

        The bearer token is not sent: the URL is pre-signed and may live outside Wish's API host.
        """
        started = self._clock()
        attempt = 0
        while True:
            self.pacer.acquire()
            try:
                response = self._http.get(url, headers={"Accept": "application/json"})
                body = response.read()
                if response.status_code != 200:
                    raise WishRetryableError(f"GET {redact_url(url)}: HTTP {response.status_code}")
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise WishRetryableError(f"GET {redact_url(url)}: the file is not valid JSON") from None
                if isinstance(data, dict) and isinstance(data.get("data"), list):
                    data = data["data"]
                if not isinstance(data, list):
                    raise WishRetryableError(f"GET {redact_url(url)}: the file is not a list of orders")
                return data
            except httpx.TransportError as exc:
                error: WishRetryableError = WishRetryableError(f"GET {redact_url(url)}: {type(exc).__name__}")
            except WishRetryableError as exc:
                error = exc
            delay = self._backoff(attempt)
            if self._clock() + delay - started > self.retry.max_elapsed:
                raise error
            self._sleep(delay)
            attempt += 1
            self.retried_requests += 1

    def get_order(self, order_id: str) -> dict[str, Any]:
        """One order by id (``GET /orders/{id}``), as Wish returns it."""
        data = self.request("GET", f"/orders/{order_id}")
        if not isinstance(data, dict):
            raise WishRetryableError(f"GET /orders/{order_id}: data is not an object")
        return data

    def shipping_carriers(self, order_type: str = "GENERAL", dest_country_code: str | None = None) -> list[str]:
        """The carrier names Wish accepts for an order type and destination (``GET /orders/shipping_carriers``)."""
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
        """Change an order's shipping address (``PUT /orders/{id}/address``); a write, never retried blindly."""
        return self.request("PUT", f"/orders/{order_id}/address", json=dict(address), write=True)  # type: ignore[no-any-return]

    def refund_reasons(self, order_id: str) -> list[str]:
        """The refund reasons Wish allows for this order (``GET /orders/{id}/refund_reasons``)."""
        return list(self.request("GET", f"/orders/{order_id}/refund_reasons") or [])

    def refund_order(self, order_id: str, reason: str, note: str | None = None) -> dict[str, Any]:
        """Refund an order with one of its allowed reasons (``PUT /orders/{id}/refund``); a write."""
        body = {"refund_reason": reason, **({"refund_reason_note": note} if note else {})}
        return self.request("PUT", f"/orders/{order_id}/refund", json=body, write=True)  # type: ignore[no-any-return]

    # after-sales lists are read through the sync engine's keysets (wishflow.api.after_sales)


__all__ = ["WishClient", "WishError", "redact_url", "parse_reset"]
