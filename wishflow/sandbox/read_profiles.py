"""Read-side behaviour profiles: the plausible answers where Wish's documentation is silent.

Each profile fixes one reading of an undocumented (or ambiguous) behaviour of Wish's read side; the
pull, tracking and ticket scenarios run under every profile, so the client depends on none of them.
Where each behaviour comes from is in STATUS.md ("Read profiles"). Select one with
``SandboxConfig.read_profile`` (a name in :data:`READ_PROFILES`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Literal

import orjson

ResetFormat = Literal["epoch_seconds", "epoch_millis", "seconds_to_wait", "http_date", "absent"]


@dataclass(frozen=True)
class ReadProfile:
    """One combination of read-side behaviours (see STATUS.md for each one's source)."""

    name: str
    #: whether ``updated_at_min`` on ``GET /orders`` (and ``POST /orders/bulk_get``) includes its instant
    updated_at_min_inclusive: bool = True
    #: the format of ``Wish-Rate-Limit-Reset`` on a 429
    reset_format: ResetFormat = "epoch_seconds"
    #: error ``code`` as a JSON string ("1029") rather than a number
    string_codes: bool = False
    #: error bodies carry ``"data": null`` (the APIError schema lists no data; some SDKs show it)
    error_data: bool = False
    #: the data profile this read profile brings (wishflow/sandbox/programs.py), so the scenarios that
    #: run under every read profile also run over other currencies, programs and penalty reversals
    data: str = "plain"

    def reset_header(self, wait_seconds: float, now: float | None = None) -> list[tuple[bytes, bytes]]:
        """The ``Wish-Rate-Limit-Reset`` (and ``Retry-After``) headers of a 429 under this profile."""
        current = time.time() if now is None else now
        reset = math.ceil(current + wait_seconds)
        value: str | None = {
            "epoch_seconds": str(reset),
            "epoch_millis": str(reset * 1000),
            "seconds_to_wait": str(max(1, math.ceil(wait_seconds))),
            "http_date": formatdate(reset, usegmt=True),
            "absent": None,
        }[self.reset_format]
        headers = [(b"retry-after", str(max(1, math.ceil(wait_seconds))).encode())]
        if value is not None:
            headers.insert(0, (b"wish-rate-limit-reset", value.encode()))
        return headers

    def error_body(self, body: bytes) -> bytes:
        """An APIError body (``{"code", "message"}``) rewritten to this profile's shape."""
        if not self.string_codes and not self.error_data:
            return body
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(parsed, dict) or "code" not in parsed:
            return body
        if self.string_codes and isinstance(parsed["code"], int):
            parsed["code"] = str(parsed["code"])
        if self.error_data:
            parsed.setdefault("data", None)
        return orjson.dumps(parsed)


#: Every read profile, by name. "documented" is what the spec shows or implies.
READ_PROFILES: dict[str, ReadProfile] = {
    p.name: p
    for p in (
        ReadProfile("documented"),
        ReadProfile("exclusive_min", updated_at_min_inclusive=False),
        ReadProfile("reset_millis", reset_format="epoch_millis"),
        ReadProfile("reset_seconds_to_wait", reset_format="seconds_to_wait"),
        ReadProfile("reset_http_date", reset_format="http_date"),
        ReadProfile("reset_absent", reset_format="absent"),
        ReadProfile("string_codes_with_data", string_codes=True, error_data=True),
        ReadProfile("data_merchant_cny", data="merchant_cny"),
        ReadProfile("data_mixed_currencies", data="mixed_currencies"),
        ReadProfile("data_programs", data="programs"),
        ReadProfile("data_penalty_reversals", data="penalty_reversals"),
        ReadProfile("data_everything", reset_format="epoch_millis", string_codes=True, data="everything"),
    )
}


def read_profile(name: str) -> ReadProfile:
    """The read profile called ``name``.

    Raises:
        ValueError: no profile has that name (the message lists the known ones).
    """
    try:
        return READ_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown read profile {name!r}; one of {', '.join(READ_PROFILES)}") from None
