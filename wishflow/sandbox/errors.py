"""Error codes the sandbox returns. Where Wish documents a code (in its OpenAPI examples) we use it."""

from __future__ import annotations


class SandboxError(Exception):
    """An API error: rendered as ``{"code": code, "message": message}`` with HTTP ``status``."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# Generic (codes 1000-1008 as in Wish's OpenAPI examples)
INTERNAL_ERROR = 1000  # 500/503 (fault injection)
INVALID_PARAMETER = 1001  # bad query parameter or body field (also limit outside 1..500)
ACCOUNT_DISABLED = 1002  # (unused)
NOT_FOUND = 1004  # unknown order / ticket / penalty id (HTTP 400)
UNAUTHORIZED_ACCESS = 1006  # /oauth/test without a known token (HTTP 400, as Wish documents)
TOKEN_EXPIRED = 1007  # expired access token (HTTP 401 on resources, 400 on /oauth/test)
TOKEN_REVOKED = 1008  # revoked access token, e.g. after a refresh (HTTP 401 / 400 on /oauth/test)
MISSING_TOKEN = 1012  # no or unknown bearer token (HTTP 401)
RATE_LIMITED = 1029  # HTTP 429

# OAuth (Wish's documented codes)
INVALID_CREDENTIALS = 10001
AUTH_CODE_REDEEMED = 10002
AUTH_CODE_EXPIRED = 10004
INVALID_AUTH_CODE = 10008

# Orders (sandbox-chosen, Wish-like)
ORDER_NOT_SHIPPABLE = 4001  # tracking on an order that is not APPROVED or SHIPPED
INVALID_TRACKING_NUMBER = 4002  # tracking number not letters and digits
CARRIER_NOT_ACCEPTED = 4003  # shipping_provider is not a carrier Wish accepts
WRITE_IN_PROGRESS = 4006  # another asynchronous write on the order is IN_PROGRESS
ADDRESS_NOT_EDITABLE = 4007  # address change after shipping / on a closed order
REFUND_REASON_INVALID = 4008  # refund reason not valid for the order's stage
ORDER_NOT_REFUNDABLE = 4009  # order already refunded, declined or under review
TRACKING_NUMBER_IN_USE = 4011  # tracking number used by another order with another recipient / >5 days
COUNTRY_CHANGE_NOT_ALLOWED = 4012  # address change to another country
FULFILLED_BY_WISH = 4013  # tracking on an FBW order: Wish ships it, not the merchant
NOT_LTL_ORDER = 4014  # PUT /orders/{id} (UpdateOrder) on an order that is not LESS_THAN_TRUCKLOAD
LTL_NOT_SHIPPED = 4015  # LTL delivery confirmation before the order is marked shipped
LTL_WINDOW_OVER = 4016  # LTL delivery confirmation more than 90 days after marking shipped

# Asynchronous FAILED reasons (in the writes log, not HTTP errors)
FAILED_CARRIER_DESTINATION = 4004  # carrier does not deliver to the destination
FAILED_CARRIER_PROGRAM = 4005  # not a confirmed-delivery carrier for a CONFIRMED_DELIVERY_POLICY order

# Tickets
TICKET_NOT_AWAITING_MERCHANT = 5001
TICKET_STATE_CHANGE_INVALID = 5002

# Batch download jobs (Wish's documented code)
NO_SUCH_JOB = 90001
