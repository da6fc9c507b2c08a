"""Keyset pagination over ``GET /orders`` that neither misses nor repeats an order.

Wish pages by timestamp only: ``updated_at_min``/``updated_at_max`` are inclusive, there is no
cursor token and no offset. The next page therefore starts *at* the last timestamp seen, and the
ids already seen at that timestamp are skipped. When a whole page shares one timestamp (more ties
than ``limit``), ``updated_at`` alone can never get past it, so that instant is paged on its own,
by ``released_at`` with the same keyset rule (split by state where a page shares both timestamps),
before moving on one millisecond later (Wish's timestamps have millisecond precision). A tie is
read one page at a time like any other stretch: tens of thousands of orders updated at one instant
(a bulk change) never sit in memory together.

Where even a state holds more orders than a page at one ``updated_at`` and ``released_at`` (or a
saturated tie has no ``released_at`` to page by), no filter Wish offers can split them: that group is
fetched whole with Wish's batch download job (``POST /orders/bulk_get``) as one page, and the
position moves past it. No instant is too big, and a failed job leaves the position where it was.

Wish does not say whether ``updated_at_min`` includes its instant. On the first page that returns
orders, one probe (``updated_at_min = updated_at_max =`` a timestamp just seen, ``limit=1``) finds out;
where it excludes it, every lower bound is sent one millisecond earlier, so positions mean the same
under both readings (sandbox read profile "exclusive_min").

The iterator's :class:`Position` is a small serialisable value, so a retried task resumes exactly
where the last committed page ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wishflow.api.contract import WishApi
from wishflow.api.errors import PaginationError
from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.parse import OrderState

ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Position:
    """Where the next page starts: the inclusive lower bound and the ids already read at it.

    Inside a saturated tie (``in_tie``), pages run over the orders updated exactly at
    ``updated_at_min`` by ``released_at``: from ``tie_released_min``, skipping ``tie_seen`` (read at
    that ``released_at``) as well as ``seen_at_min`` (read at the instant before the tie began).
    """

    updated_at_min: datetime | None
    seen_at_min: frozenset[str] = field(default_factory=frozenset)
    in_tie: bool = False
    tie_released_min: datetime | None = None
    tie_seen: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "updated_at_min": format_wish_time(self.updated_at_min) if self.updated_at_min else None,
            "seen_at_min": sorted(self.seen_at_min),
        }
        if self.in_tie:
            value["tie"] = {
                "released_at_min": format_wish_time(self.tie_released_min) if self.tie_released_min else None,
                "seen": sorted(self.tie_seen),
            }
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Position:
        tie = value.get("tie")
        return cls(
            parse_wish_time(value.get("updated_at_min")),
            frozenset(value.get("seen_at_min") or ()),
            in_tie=isinstance(tie, dict),
            tie_released_min=parse_wish_time(tie.get("released_at_min")) if isinstance(tie, dict) else None,
            tie_seen=frozenset(tie.get("seen") or ()) if isinstance(tie, dict) else frozenset(),
        )


@dataclass(frozen=True)
class Page:
    """One page of fresh records and the position after it (``None`` when the window is done)."""

    records: list[Any]
    next_position: Position | None
    requests: int = 1


def _record_id(record: Any) -> str | None:
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


def _record_time(record: Any, key: str) -> datetime | None:
    return parse_wish_time(record.get(key)) if isinstance(record, dict) else None


def _last_time(records: list[Any], key: str) -> datetime | None:
    for record in reversed(records):
        value = _record_time(record, key)
        if value is not None:
            return value
    return None


def _first_time(records: list[Any], key: str) -> datetime | None:
    for record in records:
        value = _record_time(record, key)
        if value is not None:
            return value
    return None


class OrderPages:
    """Pages of orders updated in ``[start, end]`` in ascending ``updated_at`` order."""

    def __init__(
        self,
        client: WishApi,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int = 500,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        if not 1 <= limit <= 500:
            raise ValueError("limit must be between 1 and 500 (Wish's bounds)")
        self.client = client
        self.start = start
        self.end = end
        self.limit = limit
        self._on_request = on_request
        #: whether Wish's ``updated_at_min`` includes its instant (``None``: not probed yet)
        self.min_inclusive: bool | None = None

    def _bounds(self, params: dict[str, Any]) -> dict[str, Any]:
        lower = params.get("updated_at_min")
        if self.min_inclusive is False and isinstance(lower, datetime):
            params = {**params, "updated_at_min": lower - ONE_MS}
        return params

    def _list(self, **params: Any) -> list[Any]:
        if self._on_request:
            self._on_request()
        return self.client.list_orders(limit=self.limit, **self._bounds(params))

    def _probe_min_semantics(self, records: list[Any]) -> int:
        """Find out once whether ``updated_at_min`` is inclusive (see the module docstring)."""
        seen = _first_time(records, "updated_at")
        if self.min_inclusive is not None or seen is None:
            return 0
        if self._on_request:
            self._on_request()
        self.min_inclusive = bool(self.client.list_orders(limit=1, updated_at_min=seen, updated_at_max=seen))
        return 1

    def first_position(self) -> Position:
        return Position(self.start)

    def fetch(self, position: Position) -> Page:
        """The page at ``position`` (one request; a few more where a page shares both timestamps)."""
        if position.in_tie:
            return self._fetch_tie(position)
        probing = self.min_inclusive is None
        records = self._list(updated_at_min=position.updated_at_min, updated_at_max=self.end, sort_by="updated_at.asc")
        probed = probing and self._probe_min_semantics(records)
        if probed and not self.min_inclusive and position.updated_at_min is not None:
            page = self.fetch(position)  # the page left out its own first instant: read it again
            return Page(page.records, page.next_position, page.requests + 2)
        seen = position.seen_at_min
        if len(records) < self.limit:
            return Page([r for r in records if _record_id(r) not in seen], None)
        first = _first_time(records, "updated_at")
        last = _last_time(records, "updated_at")
        if last is None:
            raise PaginationError("a full page of orders has no readable updated_at; cannot page on")
        if first == last:
            # The whole page shares one instant: page through that instant on its own (this page,
            # in no useful order, is dropped), then step past it.
            carried = seen if last == position.updated_at_min else frozenset()
            page = self._fetch_tie(Position(last, carried, in_tie=True))
            return Page(page.records, page.next_position, page.requests + 1)
        at_last = frozenset(
            rid for r in records if _record_time(r, "updated_at") == last and (rid := _record_id(r)) is not None
        )
        fresh = [r for r in records if _record_id(r) not in seen]
        return Page(fresh, Position(last, at_last))

    def __iter__(self) -> Iterator[Page]:
        position: Position | None = self.first_position()
        while position is not None:
            page = self.fetch(position)
            yield page
            position = page.next_position

    # -- ties ------------------------------------------------------------------------------------

    def _fetch_tie(self, position: Position) -> Page:
        """One page of the orders updated exactly at ``position.updated_at_min``, by ``released_at``."""
        instant = position.updated_at_min
        assert instant is not None
        skip = position.seen_at_min | position.tie_seen
        records = self._list(
            updated_at_min=instant,
            updated_at_max=instant,
            released_at_min=position.tie_released_min,
            sort_by="released_at.asc",
        )
        if len(records) < self.limit:
            return Page([r for r in records if _record_id(r) not in skip], self._after(instant))
        first = _first_time(records, "released_at")
        last = _last_time(records, "released_at")
        if last is None or any(_record_time(r, "released_at") is None for r in records):
            # orders without a released_at cannot be paged by it: the whole instant in one job
            bulk = self._download(updated_at_min=instant, updated_at_max=instant)
            fresh = [r for r in bulk if _record_id(r) not in position.seen_at_min]
            return Page(fresh, self._after(instant), 2)
        if first == last:
            by_state, requests = self._all_at_by_state(instant, last)
            fresh = [r for r in by_state if _record_id(r) not in skip]
            nxt = Position(instant, position.seen_at_min, in_tie=True, tie_released_min=last + ONE_MS)
            return Page(fresh, nxt, requests + 1)
        at_last = frozenset(
            rid for r in records if _record_time(r, "released_at") == last and (rid := _record_id(r)) is not None
        )
        fresh = [r for r in records if _record_id(r) not in skip]
        return Page(
            fresh, Position(instant, position.seen_at_min, in_tie=True, tie_released_min=last, tie_seen=at_last)
        )

    def _after(self, instant: datetime) -> Position | None:
        """The position one millisecond past a finished tie, or ``None`` past the window's end."""
        nxt = instant + ONE_MS
        if self.end is not None and nxt > self.end:
            return None
        return Position(nxt)

    def _all_at_by_state(self, updated: datetime, released: datetime) -> tuple[list[Any], int]:
        """Every order at both instants: a page per state, or one download job when a state fills a page."""
        out: list[Any] = []
        requests = 0
        for state in OrderState:
            records = self._list(
                updated_at_min=updated,
                updated_at_max=updated,
                released_at_min=released,
                released_at_max=released,
                states=[state.value],
                sort_by="updated_at.asc",
            )
            requests += 1
            if len(records) >= self.limit:
                # No filter Wish offers splits these: fetch the whole group at once (all states,
                # so the pages already read for other states are simply superseded).
                bulk = self._download(
                    updated_at_min=updated,
                    updated_at_max=updated,
                    released_at_min=released,
                    released_at_max=released,
                )
                return bulk, requests + 1
            out.extend(records)
        return out, requests

    def _download(self, **params: Any) -> list[Any]:
        if self._on_request:
            self._on_request()
        records = self.client.download_orders(**self._bounds(params))
        if not isinstance(records, list):
            raise PaginationError("the download job did not return a list of orders")
        return records
