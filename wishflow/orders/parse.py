"""Parse Wish order payloads at the edge of the system.

Each order is checked against a small pydantic model of the fields Wishflow cannot do without
(identity, state, timestamps). Everything else is read tolerantly and the whole payload is kept
verbatim, so schema drift (unknown fields) never fails a run and nothing Wish sent is lost. A record
that lacks a required field becomes an :class:`OrderRecordError`, which the loader quarantines with
its reason instead of crashing the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wishflow.orders.records import Irregular, OrderRecord, typed_row
from wishflow.orders.rules import ORDER_ID_PATTERN, OrderState

_ORDER_ID = re.compile(ORDER_ID_PATTERN)


class OrderCore(BaseModel):
    """The fields an order cannot be recorded without; unknown fields are ignored here (kept in raw)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=ORDER_ID_PATTERN)
    state: OrderState
    updated_at: datetime
    released_at: datetime | None = None


class CheckedCore(NamedTuple):
    """:class:`OrderCore`'s fields as the typed route read them, checked by the same rules.

    (``records.typed_row``: the id's pattern and length, a state Wish lists, times in Wish's format
    with their zone.) A tuple, because building a pydantic model for each regular order cost more
    than reading the order.
    """

    id: str
    state: OrderState
    updated_at: datetime
    released_at: datetime | None


_STATE = {state.value: state for state in OrderState}  # the enum's lookup by value, without its call


class ParsedOrder:
    """An order that passed the edge check: its core fields and the untouched payload.

    An order decoded on the typed route (:mod:`wishflow.orders.records`) comes with its ``row`` and
    ``milestones`` made already, and its payload is made from the record's bytes only if asked for.
    """

    __slots__ = ("_payload", "_record", "core", "milestones", "row")

    def __init__(
        self,
        core: OrderCore | CheckedCore,
        payload: dict[str, Any] | None = None,
        *,
        record: OrderRecord | None = None,
        row: tuple[Any, ...] | None = None,
        milestones: list[tuple[str, datetime]] | None = None,
    ) -> None:
        self.core = core
        self._payload = payload
        self._record = record
        self.row = row
        self.milestones = milestones

    @property
    def payload(self) -> dict[str, Any]:
        """The order as Wish sent it, as Python values."""
        if self._payload is None and self._record is not None:
            self._payload = self._record.payload
        return self._payload or {}

    def __repr__(self) -> str:
        return f"ParsedOrder({self.core!r})"


@dataclass(frozen=True, slots=True)
class OrderRecordError:
    """A record Wish returned that cannot be recorded as an order, with the reason why."""

    order_id: str | None
    reason: str
    payload: Any

    def raw_json(self) -> str:
        """The rejected payload as JSON text for ``rejected_records`` (repr when it is not JSON-serialisable)."""
        try:
            return orjson.dumps(self.payload, default=str).decode()
        except TypeError:
            return repr(self.payload)


def parse_order(payload: Any) -> ParsedOrder | OrderRecordError:
    """Check one order payload (a dict, or a typed :class:`~wishflow.orders.records.OrderRecord`); never raises."""
    if isinstance(payload, OrderRecord):
        try:
            row, milestones = typed_row(payload)
        except Irregular:
            return parse_order(payload.payload)
        checked = CheckedCore(row[0], _STATE[row[2]], row[4], row[3])
        return ParsedOrder(checked, record=payload, row=row, milestones=milestones)
    if not isinstance(payload, dict):
        return OrderRecordError(None, f"order record is a {type(payload).__name__}, not an object", payload)
    try:
        core = OrderCore.model_validate(payload)
    except ValidationError as exc:
        raw_id = payload.get("id")
        order_id = raw_id if isinstance(raw_id, str) and _ORDER_ID.match(raw_id) else None
        reasons = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'order'}: {err['msg']}" for err in exc.errors())
        return OrderRecordError(order_id, f"malformed order: {reasons}", payload)
    if core.updated_at.tzinfo is None:
        return OrderRecordError(core.id, "malformed order: updated_at has no time zone", payload)
    return ParsedOrder(core, payload)


def parse_orders(payloads: list[Any]) -> tuple[list[ParsedOrder], list[OrderRecordError]]:
    """Split a page of payloads into parsed orders and per-record errors, keeping their order."""
    good: list[ParsedOrder] = []
    bad: list[OrderRecordError] = []
    for item in payloads:
        result = parse_order(item)
        if isinstance(result, ParsedOrder):
            good.append(result)
        else:
            bad.append(result)
    return good, bad
