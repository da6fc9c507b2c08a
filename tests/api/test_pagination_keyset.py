"""The one keyset paginator over tickets and penalties: saturated instants narrowed by the filters
each list declares, never a wedge, every record exactly once (ties shuffled on every call).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from wishflow.api.after_sales import TICKET_STATES, TICKET_TYPES
from wishflow.api.pagination import Keyset, KeysetPages
from wishflow.orders.flatten import format_wish_time, parse_wish_time

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TIMES = ("updated_at", "created_at", "reversed_at")


class Lister:
    """A list endpoint over ``records``: inclusive (or exclusive) ``<key>_min``, inclusive max,
    enumerated filters, sorted by ``sort_by`` with ties shuffled, limited.
    """

    def __init__(self, records: list[dict[str, Any]], *, exclusive_min: bool = False, seed: int = 0) -> None:
        self.records = records
        self.exclusive_min = exclusive_min
        self.rng = random.Random(seed)
        self.calls = 0

    def __call__(self, **p: Any) -> list[Any]:
        self.calls += 1
        key, _, direction = p["sort_by"].partition(".")

        def within(r: dict[str, Any]) -> bool:
            for name in TIMES:
                lo, hi = p.get(f"{name}_min"), p.get(f"{name}_max")
                if lo is None and hi is None:
                    continue
                value = parse_wish_time(r.get(name))
                if value is None:
                    return False
                if lo is not None and (value <= lo if self.exclusive_min and name == key else value < lo):
                    return False
                if hi is not None and value > hi:
                    return False
            return all(not p.get(f) or r[f[:-1]] in p[f] for f in ("types", "states"))

        rows = [r for r in self.records if within(r)]
        self.rng.shuffle(rows)
        rows.sort(key=lambda r: r.get(key) or "", reverse=direction == "desc")
        return rows[: p["limit"]]


def ticket(i: int, at: datetime) -> dict[str, Any]:
    return {
        "id": f"t{i:05d}",
        "updated_at": format_wish_time(at),
        "type": TICKET_TYPES[i % 3],
        "state": TICKET_STATES[(i // 3) % 5],
    }


def read_all(pages: KeysetPages) -> tuple[list[str], int]:
    ids: list[str] = []
    unresolved = 0
    for page in pages:
        ids.extend(r["id"] for r in page.records)
        unresolved += len(page.unresolved)
    return ids, unresolved


def tickets_keyset(lister: Lister) -> Keyset:
    return Keyset("updated_at", lister, splits=(("types", TICKET_TYPES), ("states", TICKET_STATES)))


def test_a_saturated_ticket_instant_is_split_by_type_then_state() -> None:
    tie = T0 + timedelta(hours=1)
    records = [ticket(i, T0 + timedelta(seconds=i)) for i in range(70)]
    records += [ticket(1000 + i, tie) for i in range(600)]  # 40 per type and state
    records += [ticket(5000 + i, tie + timedelta(seconds=1 + i)) for i in range(70)]
    for exclusive in (False, True):
        pages = KeysetPages(tickets_keyset(Lister(records, exclusive_min=exclusive)), start=T0, end=None, limit=50)
        ids, unresolved = read_all(pages)
        assert sorted(ids) == sorted(r["id"] for r in records)  # each exactly once
        assert unresolved == 0
        assert pages.min_inclusive is not exclusive


def test_a_ticket_group_nothing_splits_is_reported_and_passed() -> None:
    tie = T0 + timedelta(hours=1)
    stuck = [{**ticket(i, tie), "type": "ORDER", "state": "CLOSED"} for i in range(80)]
    after = [ticket(9000 + i, tie + timedelta(seconds=1 + i)) for i in range(10)]
    pages = KeysetPages(tickets_keyset(Lister(stuck + after)), start=None, end=None, limit=50)
    ids, unresolved = read_all(pages)
    assert unresolved == 1
    assert len(ids) == len(set(ids)) == 50 + len(after)
    assert {r["id"] for r in after} <= set(ids)


def penalty(i: int, created: datetime, reversed_at: datetime | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"id": f"p{i:05d}", "created_at": format_wish_time(created), "reversed": False}
    if reversed_at is not None:
        record |= {"reversed": True, "reversed_at": format_wish_time(reversed_at)}
    return record


def test_a_saturated_reversal_instant_is_paged_by_created_at() -> None:
    at = T0 + timedelta(days=1)
    records = [penalty(i, T0 + timedelta(minutes=i % 7), at) for i in range(230)]
    records += [penalty(500 + i, T0, at + timedelta(seconds=i + 1)) for i in range(20)]
    records += [penalty(900 + i, T0) for i in range(30)]  # never reversed: not in this stream
    lister = Lister(records)
    pages = KeysetPages(Keyset("reversed_at", lister, tie_key="created_at"), start=None, end=None, limit=50)
    ids, unresolved = read_all(pages)
    assert sorted(ids) == sorted(r["id"] for r in records if r["reversed"])
    assert unresolved == 0


def test_a_saturated_creation_instant_goes_to_the_whole_group_fetch() -> None:
    at = T0 + timedelta(hours=2)
    group = [penalty(i, at) for i in range(120)]
    records = [penalty(1000 + i, T0 + timedelta(seconds=i)) for i in range(60)] + group
    asked: list[dict[str, Any]] = []

    def whole(filters: dict[str, Any], partial: list[Any]) -> tuple[list[Any], bool]:
        asked.append(filters)
        assert len(partial) == 50  # the page already read is handed over
        return list(group), True

    pages = KeysetPages(Keyset("created_at", Lister(records), whole=whole), start=None, end=None, limit=50)
    ids, unresolved = read_all(pages)
    assert sorted(ids) == sorted(r["id"] for r in records)
    assert unresolved == 0
    assert [f["created_at_max"] for f in asked] == [at]

    def short(filters: dict[str, Any], partial: list[Any]) -> tuple[list[Any], bool]:
        return list(partial), False

    pages = KeysetPages(Keyset("created_at", Lister(records), whole=short), start=None, end=None, limit=50)
    ids, unresolved = read_all(pages)
    assert unresolved == 1
    assert len(ids) == len(set(ids))  # what was read of the group, once each, and everything else
    assert {r["id"] for r in records if r not in group} <= set(ids)
    assert 50 <= len(set(ids) & {r["id"] for r in group}) < len(group)
