"""The one keyset paginator over Wish's list endpoints (orders, tickets, penalties).

No record missed or repeated, and no instant too big.

Wish pages by timestamp only: ``<key>_min``/``<key>_max`` are inclusive, there is no cursor token and
no offset. The next page therefore starts *at* the last timestamp seen, and the ids already seen at
that timestamp are skipped. When a whole page shares one timestamp (more records at one instant than
a page holds), the timestamp alone can never get past it, so that instant is read on its own, with
the narrowings the endpoint's declaration (:class:`Keyset`) names, before moving on one millisecond
later (Wish's timestamps have millisecond precision):

1. ``tie_key``: a second timestamp filter paged with the same keyset rule inside the instant
   (orders: ``released_at``), one page at a time, so tens of thousands of records updated at one
   instant never sit in memory together;
2. ``splits``: enumerated filters whose values partition the records (orders: ``states``; tickets:
   ``types`` then ``states``), each value read as its own query, the next split only where a value
   still fills a page;
3. ``whole``: what fetches a group no filter splits (orders: Wish's batch download job; penalties:
   the ids the recorded orders name, checked against ``GET /penalties/count``).

Where even that cannot read a group whole (``whole`` absent or unable), the records read are kept,
the group is reported on the page (:attr:`Page.unresolved`, flagged by the sync engine) and the
position moves past the instant: a stream never wedges, and never loses records silently.

Wish does not say whether ``<key>_min`` includes its instant. On the first page that returns
records, one probe (``min = max =`` a timestamp just seen, ``limit=1``) finds out; where it excludes
it, every lower bound is sent one millisecond earlier, so positions mean the same under both
readings (sandbox read profile "exclusive_min").

The iterator's :class:`Position` is a small serialisable value, so a retried task resumes exactly
where the last committed page ended.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wishflow.api.contract import WishApi
from wishflow.api.errors import PaginationError
from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.records import OrderRecord
from wishflow.orders.rules import OrderState

ONE_MS = timedelta(milliseconds=1)
MAX_LIMIT = 500  # Wish's bound on every list endpoint's ``limit``

#: One list request: keyword params (datetimes unformatted, lists unjoined) -> the page's records.
Fetch = Callable[..., list[Any]]
#: Every record of a group no filter splits, given the group's filters and the full page already read
#: of it: the records it found and whether they are the whole group.
Whole = Callable[[dict[str, Any], list[Any]], tuple[list[Any], bool]]


@dataclass(frozen=True)
class Keyset:
    """How one list endpoint pages (declared once per stream; see the module docstring)."""

    time_key: str
    fetch: Fetch
    tie_key: str | None = None
    splits: tuple[tuple[str, tuple[str, ...]], ...] = ()
    whole: Whole | None = None


@dataclass(frozen=True)
class Position:
    """Where the next page starts: the inclusive lower bound and the ids already read at it.

    Inside a saturated instant paged by the keyset's ``tie_key`` (``in_tie``), pages run over the
    records at exactly ``updated_at_min`` by that key: from ``tie_released_min``, skipping
    ``tie_seen`` (read at that tie-key value) as well as ``seen_at_min`` (read at the instant before
    the tie began). The field names are the orders stream's (``updated_at``, ``released_at``); for
    another stream they hold its own keys.
    """

    updated_at_min: datetime | None
    seen_at_min: frozenset[str] = field(default_factory=frozenset)
    in_tie: bool = False
    tie_released_min: datetime | None = None
    tie_seen: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        """The position as JSON, to store in a cursor and resume from in a later run."""
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
        """A position stored by :meth:`to_json` (missing keys read as the start of the window)."""
        tie = value.get("tie")
        return cls(
            parse_wish_time(value.get("updated_at_min")),
            frozenset(value.get("seen_at_min") or ()),
            in_tie=isinstance(tie, dict),
            tie_released_min=parse_wish_time(tie.get("released_at_min")) if isinstance(tie, dict) else None,
            tie_seen=frozenset(tie.get("seen") or ()) if isinstance(tie, dict) else frozenset(),
        )


@dataclass(frozen=True)
class Unresolved:
    """A group of records at one instant that no filter split and nothing fetched whole."""

    filters: dict[str, Any]
    read: int

    def describe(self) -> str:
        """A one-line account for the run's log and result: which instant, and how many records were read."""
        shown = {k: format_wish_time(v) if isinstance(v, datetime) else v for k, v in self.filters.items()}
        return f"more than a page of records share {shown}; {self.read} read, the rest cannot be paged"


@dataclass(frozen=True)
class Page:
    """One page of fresh records and the position after it (``None`` when the window is done)."""

    records: list[Any]
    next_position: Position | None
    requests: int = 1
    unresolved: tuple[Unresolved, ...] = ()


def _record_id(record: Any) -> str | None:
    value = record.get("id") if isinstance(record, dict | OrderRecord) else None
    return value if isinstance(value, str) else None


def _record_time(record: Any, key: str) -> datetime | None:
    return parse_wish_time(record.get(key)) if isinstance(record, dict | OrderRecord) else None


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


def _dedupe(records: list[Any], skip: frozenset[str]) -> list[Any]:
    """``records`` without ids in ``skip`` and without repeats (groups read twice overlap)."""
    seen = set(skip)
    out = []
    for record in records:
        rid = _record_id(record)
        if rid is not None:
            if rid in seen:
                continue
            seen.add(rid)
        out.append(record)
    return out


class KeysetPages:
    """Pages of records with ``keyset.time_key`` in ``[start, end]``, in ascending order."""

    def __init__(
        self,
        keyset: Keyset,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int = MAX_LIMIT,
        on_request: Callable[[], None] | None = None,
        probe_min: bool = True,
    ) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT} (Wish's bounds)")
        self.keyset = keyset
        self.start = start
        self.end = end
        self.limit = limit
        self._on_request = on_request
        #: whether Wish's ``<key>_min`` includes its instant (``None``: not probed yet)
        self.min_inclusive: bool | None = None if probe_min else True
        self._key = keyset.time_key

    # -- requests --------------------------------------------------------------------------------

    def _bounds(self, params: dict[str, Any]) -> dict[str, Any]:
        lower = params.get(f"{self._key}_min")
        if self.min_inclusive is False and isinstance(lower, datetime):
            params = {**params, f"{self._key}_min": lower - ONE_MS}
        return params

    def _list(self, **params: Any) -> list[Any]:
        if self._on_request:
            self._on_request()
        records = self.keyset.fetch(limit=self.limit, **self._bounds(params))
        if not isinstance(records, list):
            raise PaginationError(f"a list of records was expected, not {type(records).__name__}")
        return records

    def _probe_min_semantics(self, records: list[Any]) -> int:
        """Find out once whether ``<key>_min`` is inclusive (see the module docstring)."""
        seen = _first_time(records, self._key)
        if self.min_inclusive is not None or seen is None:
            return 0
        if self._on_request:
            self._on_request()
        probe = {f"{self._key}_min": seen, f"{self._key}_max": seen, "sort_by": f"{self._key}.asc"}
        self.min_inclusive = bool(self.keyset.fetch(limit=1, **probe))
        return 1

    # -- pages -----------------------------------------------------------------------------------

    def first_position(self) -> Position:
        """Where the first page of the window starts (its ``start``, nothing seen yet)."""
        return Position(self.start)

    def fetch(self, position: Position) -> Page:
        """The page at ``position`` (one request; a few more where a page shares one instant)."""
        if position.in_tie:
            return self._fetch_tie(position)
        key = self._key
        probing = self.min_inclusive is None
        records = self._list(**{f"{key}_min": position.updated_at_min, f"{key}_max": self.end, "sort_by": f"{key}.asc"})
        probed = probing and self._probe_min_semantics(records)
        if probed and not self.min_inclusive and position.updated_at_min is not None:
            page = self.fetch(position)  # the page left out its own first instant: read it again
            return Page(page.records, page.next_position, page.requests + 2, page.unresolved)
        seen = position.seen_at_min
        if len(records) < self.limit:
            return Page(_dedupe(records, seen), None)
        first = _first_time(records, key)
        last = _last_time(records, key)
        if last is None:
            raise PaginationError(f"a full page has no readable {key}; cannot page on")
        if first == last:
            # The whole page shares one instant: read that instant on its own (this page, in no
            # useful order, is dropped), then step past it.
            carried = seen if last == position.updated_at_min else frozenset()
            if self.keyset.tie_key is not None:
                page = self._fetch_tie(Position(last, carried, in_tie=True))
                return Page(page.records, page.next_position, page.requests + 1, page.unresolved)
            group, requests, unresolved = self._group({f"{key}_min": last, f"{key}_max": last}, 0, records)
            return Page(_dedupe(group, carried), self._after(last), requests + 1, unresolved)
        at_last = frozenset(rid for r in records if _record_time(r, key) == last and (rid := _record_id(r)) is not None)
        return Page(_dedupe(records, seen), Position(last, at_last))

    def __iter__(self) -> Iterator[Page]:
        position: Position | None = self.first_position()
        while position is not None:
            page = self.fetch(position)
            yield page
            position = page.next_position

    # -- saturated instants ----------------------------------------------------------------------

    def _fetch_tie(self, position: Position) -> Page:
        """One page of the records exactly at ``position.updated_at_min``, by the keyset's tie key."""
        instant = position.updated_at_min
        tie = self.keyset.tie_key
        assert instant is not None
        assert tie is not None
        at_instant = {f"{self._key}_min": instant, f"{self._key}_max": instant}
        skip = position.seen_at_min | position.tie_seen
        records = self._list(**at_instant, **{f"{tie}_min": position.tie_released_min, "sort_by": f"{tie}.asc"})
        if len(records) < self.limit:
            return Page(_dedupe(records, skip), self._after(instant))
        first = _first_time(records, tie)
        last = _last_time(records, tie)
        if last is None or any(_record_time(r, tie) is None for r in records):
            # records without the tie key cannot be paged by it: the whole instant at once
            group, requests, unresolved = self._whole(at_instant, records)
            return Page(_dedupe(group, position.seen_at_min), self._after(instant), requests + 1, unresolved)
        if first == last:
            group, requests, unresolved = self._group({**at_instant, f"{tie}_min": last, f"{tie}_max": last}, 0)
            nxt = Position(instant, position.seen_at_min, in_tie=True, tie_released_min=last + ONE_MS)
            return Page(_dedupe(group, skip), nxt, requests + 1, unresolved)
        at_last = frozenset(rid for r in records if _record_time(r, tie) == last and (rid := _record_id(r)) is not None)
        nxt = Position(instant, position.seen_at_min, in_tie=True, tie_released_min=last, tie_seen=at_last)
        return Page(_dedupe(records, skip), nxt)

    def _after(self, instant: datetime) -> Position | None:
        """The position one millisecond past a finished instant, or ``None`` past the window's end."""
        nxt = instant + ONE_MS
        if self.end is not None and nxt > self.end:
            return None
        return Position(nxt)

    def _group(
        self, filters: dict[str, Any], level: int, full: list[Any] | None = None
    ) -> tuple[list[Any], int, tuple[Unresolved, ...]]:
        """Every record matching ``filters`` (all at one instant), split where a value fills a page.

        One query per value of the split at ``level`` (the next split only where a value fills a page),
        else the whole group at once.
        """
        if level >= len(self.keyset.splits):
            return self._whole(filters, full or [])
        name, values = self.keyset.splits[level]
        out: list[Any] = []
        requests = 0
        unresolved: tuple[Unresolved, ...] = ()
        for value in values:
            narrowed = {**filters, name: [value]}
            records = self._list(**narrowed, sort_by=f"{self._key}.asc")
            requests += 1
            if len(records) >= self.limit:
                more, n, missing = self._group(narrowed, level + 1, records)
                out.extend(more)
                requests += n
                unresolved += missing
            else:
                out.extend(records)
        return out, requests, unresolved

    def _whole(self, filters: dict[str, Any], partial: list[Any]) -> tuple[list[Any], int, tuple[Unresolved, ...]]:
        """The group through the keyset's ``whole`` (one request counted), else what was read, reported."""
        if self.keyset.whole is not None:
            if self._on_request:
                self._on_request()
            records, complete = self.keyset.whole(self._bounds(filters), list(partial))
            if not isinstance(records, list):
                raise PaginationError("the whole-group fetch did not return a list of records")
            return records, 1, () if complete else (Unresolved(filters, len(records)),)
        return list(partial), 0, (Unresolved(filters, len(partial)),)


# -- orders ---------------------------------------------------------------------------------------


def orders_keyset(client: WishApi, *, typed: bool = False) -> Keyset:
    """The keyset of ``GET /orders``: updated_at, then released_at, then state, then a batch job.

    ``GET /orders``: by ``updated_at``; a saturated instant by ``released_at``, then by state, then
    Wish's batch download job (``POST /orders/bulk_get``) for a group no filter splits. ``typed``:
    the list's records come as :class:`~wishflow.orders.records.OrderRecord` s (the download job's
    stay dicts: a page may hold both).
    """

    def whole(filters: dict[str, Any], _partial: list[Any]) -> tuple[list[Any], bool]:
        return client.download_orders(**filters), True

    return Keyset(
        time_key="updated_at",
        fetch=functools.partial(client.list_orders, typed=True) if typed else client.list_orders,
        tie_key="released_at",
        splits=(("states", tuple(state.value for state in OrderState)),),
        whole=whole,
    )


class OrderPages(KeysetPages):
    """Pages of orders updated in ``[start, end]`` in ascending ``updated_at`` order."""

    def __init__(
        self,
        client: WishApi,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int = MAX_LIMIT,
        on_request: Callable[[], None] | None = None,
        typed: bool = False,
    ) -> None:
        super().__init__(orders_keyset(client, typed=typed), start=start, end=end, limit=limit, on_request=on_request)
        self.client = client


def wish_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyset params as query params: datetimes in Wish's format, lists comma-joined, ``None`` dropped."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            out[name] = format_wish_time(value)
        elif isinstance(value, list | tuple):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = value
    return out
