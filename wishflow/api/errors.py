"""How Wishflow reacts to each Wish API failure, decided in one table.

Wish answers errors as HTTP 400 with a non-zero ``code`` (401 with code 1012 for a missing token,
429 when rate limited). Rather than scattering ``if``s, every failure is classified here into one of
a few actions; the client raises a typed exception per action. Which layer retries what is written
once, in :mod:`wishflow.api.client`'s docstring: the client retries idempotent reads and waits out
429s per request; a Prefect task's ``retry_condition_fn`` retries only what is still retryable after
the client's budget.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from wishflow.errors import ConfigError


class ErrorAction(StrEnum):
    """What a caller should do about a failed Wish call, decided once from its status and code.

    The client retries, waits or refreshes by this value alone, so the classification of Wish's
    answers lives in one place.
    """

    RETRY = "retry"  # transient: try again later with backoff
    RATE_LIMITED = "rate_limited"  # wait until Wish-Rate-Limit-Reset, then try again
    REFRESH_TOKEN = "refresh_token"  # the access token expired or was revoked: refresh once
    CONFIG_ERROR = "config_error"  # credentials or account wrong: a human must fix configuration
    FAIL = "fail"  # the request itself is wrong: retrying cannot help


#: Wish's "not found" (HTTP 400: unknown order, ticket or penalty id), as in its OpenAPI examples.
WISH_NOT_FOUND = 1004
#: Wish's rate-limit code (with HTTP 429).
WISH_RATE_LIMITED = 1029
#: Another asynchronous write on the order is still in progress: the write was not applied (Wish-like,
#: chosen by the sandbox; the write machines wait and send again).
WISH_WRITE_IN_PROGRESS = 4006

#: Wish error codes with a meaning of their own (the rest of the 4xx fail the request).
WISH_CODE_ACTIONS: dict[int, ErrorAction] = {
    1000: ErrorAction.RETRY,  # internal error
    1002: ErrorAction.CONFIG_ERROR,  # account disabled
    1006: ErrorAction.CONFIG_ERROR,  # unauthorized access on this API (scope, unknown token)
    1007: ErrorAction.REFRESH_TOKEN,  # access token expired
    1008: ErrorAction.REFRESH_TOKEN,  # access token revoked (e.g. after a refresh elsewhere)
    1012: ErrorAction.REFRESH_TOKEN,  # missing or invalid access token
    WISH_RATE_LIMITED: ErrorAction.RATE_LIMITED,  # rate limit exceeded (with HTTP 429)
    10001: ErrorAction.CONFIG_ERROR,  # client id / secret do not match
}

#: HTTP statuses decided by status alone.
STATUS_ACTIONS: dict[int, ErrorAction] = {
    401: ErrorAction.REFRESH_TOKEN,
    403: ErrorAction.CONFIG_ERROR,
    408: ErrorAction.RETRY,
    409: ErrorAction.RETRY,
    425: ErrorAction.RETRY,
    429: ErrorAction.RATE_LIMITED,
    500: ErrorAction.RETRY,
    502: ErrorAction.RETRY,
    503: ErrorAction.RETRY,
    504: ErrorAction.RETRY,
}


def classify(status: int, wish_code: int | None) -> ErrorAction:
    """The action for an HTTP status and Wish error code: status first for 429/5xx, then the code."""
    if status == 429:
        return ErrorAction.RATE_LIMITED
    if status >= 500:
        return STATUS_ACTIONS.get(status, ErrorAction.RETRY)
    if wish_code is not None and wish_code in WISH_CODE_ACTIONS:
        return WISH_CODE_ACTIONS[wish_code]
    return STATUS_ACTIONS.get(status, ErrorAction.FAIL)


class WishError(Exception):
    """Base of every error the Wish client raises. Messages never contain credentials."""

    action: ErrorAction = ErrorAction.FAIL

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later can succeed (transient errors and rate limits)."""
        return self.action in (ErrorAction.RETRY, ErrorAction.RATE_LIMITED)


class WishRetryableError(WishError):
    """A transient failure (5xx, dropped connection, timeout, garbled body) on a safe request."""

    action = ErrorAction.RETRY


class WishRateLimited(WishError):
    """429: the merchant's rate limit for this app is used up until ``reset_at``."""

    action = ErrorAction.RATE_LIMITED

    def __init__(
        self, message: str, *, reset_at: datetime | None = None, retry_after: float | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.reset_at = reset_at
        #: seconds to wait before trying again, when Wish said (``None``: it did not)
        self.retry_after = retry_after


class WishAuthError(WishError, ConfigError):
    """The token is missing, expired or revoked and could not be refreshed (a configuration error)."""

    action = ErrorAction.CONFIG_ERROR
    hint = (
        "run `wishflow auth login` or set WISH_ACCESS_TOKEN to a valid token "
        "(with WISH_REFRESH_TOKEN, WISH_CLIENT_ID and WISH_CLIENT_SECRET it is refreshed when it expires)"
    )


class WishConfigError(WishError, ConfigError):
    """Credentials, scopes or account state are wrong: fix configuration, do not retry."""

    action = ErrorAction.CONFIG_ERROR
    hint = (
        "Wish refused the token or the account: get a new token with `wishflow auth login` (or set "
        "WISH_ACCESS_TOKEN), and check its app, scopes and merchant account with `wishflow auth status`"
    )


class WishUnreachable(WishConfigError):
    """No connection could be made to the API root at all (refused, unknown host).

    The configured API root is wrong or down. Not retried: a person must check ``WISH_API_BASE_URL``.
    """

    hint = "check WISH_API_BASE_URL (or the WishCredentials block's api_base_url) and the network"


class WishRequestError(WishError):
    """Wish rejected the request itself (bad parameter, invalid carrier, wrong state...)."""

    action = ErrorAction.FAIL


class WishNotFound(WishRequestError):
    """Wish does not know the id asked for (HTTP 404, or HTTP 400 with code 1004)."""


class WishWriteInProgress(WishRequestError):
    """Another asynchronous write on the order is in progress (code 4006): this one was not applied."""


class WishUncertainWriteError(WishError):
    """A write whose outcome is unknown (timeout or dropped connection after sending it).

    Wish's writes have no idempotency key: never resend blindly. Read the order back first.
    """

    action = ErrorAction.FAIL


class PaginationError(WishError):
    """The keyset pagination cannot make progress (more ties than every split can separate)."""


EXCEPTION_FOR_ACTION: dict[ErrorAction, type[WishError]] = {
    ErrorAction.RETRY: WishRetryableError,
    ErrorAction.RATE_LIMITED: WishRateLimited,
    ErrorAction.REFRESH_TOKEN: WishAuthError,
    ErrorAction.CONFIG_ERROR: WishConfigError,
    ErrorAction.FAIL: WishRequestError,
}


#: Rejected requests whose Wish code (or HTTP status) names a case callers act on: raised as a subclass
#: of :class:`WishRequestError`, so callers catch a type instead of reading codes or messages.
REQUEST_ERROR_FOR_CODE: dict[int, type[WishRequestError]] = {
    WISH_NOT_FOUND: WishNotFound,
    WISH_WRITE_IN_PROGRESS: WishWriteInProgress,
}
REQUEST_ERROR_FOR_STATUS: dict[int, type[WishRequestError]] = {404: WishNotFound}


def exception_for(action: ErrorAction, status: int | None = None, code: int | None = None) -> type[WishError]:
    """The exception type the client raises for an answer classified as ``action``."""
    if action is ErrorAction.FAIL:
        if code is not None and code in REQUEST_ERROR_FOR_CODE:
            return REQUEST_ERROR_FOR_CODE[code]
        if status is not None and status in REQUEST_ERROR_FOR_STATUS:
            return REQUEST_ERROR_FOR_STATUS[status]
    return EXCEPTION_FOR_ACTION[action]


def is_retryable(exc: BaseException) -> bool:
    """For ``retry_condition_fn``: retry transient Wish failures only."""
    return isinstance(exc, WishError) and exc.retryable
