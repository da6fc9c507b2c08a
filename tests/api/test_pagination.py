"""Keyset pagination: no order missed or repeated at page edges, whatever the ties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from wishflow.api.errors import WishRetryableError
from wishflow.api.pagination import OrderPages, Position
from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.records import order_records

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class InclusiveLister:
    """Wish's documented list semantics over a list of orders: inclusive min/max, sorted, limited.

    Ties are returned in a shuffled order on every call, so the paginator cannot lean on a stable
    secondary order that Wish does not promise.
    """

    def __init__(self, orders: list[dict[str, Any]], seed: int = 0) -> None:
        self.orders = orders
        self.calls = 0
        self.downloads = 0
        self.fail_downloads = 0
        self.rng = random.Random(seed)

    def list_orders(self, **p: Any) -> list[Any]:
        self.calls += 1
        if p.pop("typed", False):  # the pull's pages: the client's typed records
            return order_records(orjson.dumps(self._matching(p)))
        return self._matching(p)

    def _matching(self, p: dict[str, Any]) -> list[Any]:
        limit = p["limit"]
        key, _, direction = p.get("sort_by", "updated_at.asc").partition(".")

        def within(o: dict[str, Any]) -> bool:
            for field in ("updated_at", "released_at"):
                value = parse_wish_time(o[field])
                lo, hi = p.get(f"{field}_min"), p.get(f"{field}_max")
                if lo is not None and value < (lo if isinstance(lo, datetime) else parse_wish_time(lo)):
                    return False
                if hi is not None and value > (hi if isinstance(hi, datetime) else parse_wish_time(hi)):
                    return False
            states = p.get("states")
            return not states or o["state"] in states

        rows = [o for o in self.orders if within(o)]
        self.rng.shuffle(rows)
        rows.sort(key=lambda o: o[key], reverse=direction == "desc")
        return rows[:limit]

    def download_orders(self, **p: Any) -> list[Any]:
        """The batch download job: every match, no limit."""
        self.downloads += 1
        if self.fail_downloads:
            self.fail_downloads -= 1
            raise WishRetryableError("download job failed (EXCEPTION)")
        return self.list_orders(limit=10**9, **p)


def make_order(i: int, updated: datetime, released: datetime | None = None, state: str = "APPROVED") -> dict:
    return {
        "id": f"{i:024x}",
        "state": state,
        "updated_at": format_wish_time(updated),
        "released_at": format_wish_time(released or updated),
    }


def pull_ids(lister: InclusiveLister, limit: int, start: datetime | None = None, end: datetime | None = None):
    ids: list[str] = []
    for page in OrderPages(lister, start=start, end=end, limit=limit):
        ids.extend(r["id"] for r in page.records)
    return ids


def test_distinct_timestamps_are_read_once_each() -> None:
    orders = [make_order(i, T0 + timedelta(seconds=i)) for i in range(1234)]
    ids = pull_ids(InclusiveLister(orders), limit=100)
    assert sorted(ids) == sorted(o["id"] for o in orders)
    assert len(ids) == len(set(ids))


def test_ties_straddling_every_page_edge_are_neither_missed_nor_repeated() -> None:
    # groups of 7 orders per instant with a page size of 10: every page edge cuts a group
    orders = [make_order(i, T0 + timedelta(seconds=i // 7)) for i in range(500)]
    ids = pull_ids(InclusiveLister(orders, seed=3), limit=10)
    assert len(ids) == len(set(ids)) == 500


def test_more_ties_than_a_page_at_one_instant_are_all_read() -> None:
    same = T0 + timedelta(hours=1)
    orders = [make_order(i, T0 + timedelta(seconds=i)) for i in range(30)]
    orders += [make_order(1000 + i, same, released=T0 + timedelta(minutes=i % 40)) for i in range(1200)]
    orders += [make_order(5000 + i, same + timedelta(seconds=1 + i)) for i in range(30)]
    lister = InclusiveLister(orders, seed=5)
    ids = pull_ids(lister, limit=500)
    assert len(ids) == len(set(ids)) == 1260


def test_ties_on_both_timestamps_split_by_state() -> None:
    same = T0 + timedelta(hours=2)
    states = ["APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED"]
    orders = [make_order(i, same, released=T0, state=states[i % 5]) for i in range(1200)]
    ids = pull_ids(InclusiveLister(orders), limit=500)
    assert len(ids) == len(set(ids)) == 1200


def test_a_tie_no_filter_can_split_is_fetched_with_the_download_job() -> None:
    orders = [make_order(i, T0, released=T0, state="APPROVED") for i in range(5000)]
    orders += [make_order(5000 + i, T0, released=T0, state="SHIPPED") for i in range(30)]
    orders += [make_order(6000 + i, T0 + timedelta(seconds=1 + i)) for i in range(700)]
    lister = InclusiveLister(orders)
    ids = pull_ids(lister, limit=500)
    assert len(ids) == len(set(ids)) == 5730
    assert lister.downloads == 1


def test_a_failed_download_job_leaves_the_position_for_a_retry() -> None:
    orders = [make_order(i, T0, released=T0) for i in range(1200)]
    orders += [make_order(2000 + i, T0 + timedelta(seconds=1 + i)) for i in range(10)]
    lister = InclusiveLister(orders)
    lister.fail_downloads = 1
    pages = OrderPages(lister, start=None, end=None, limit=500)
    position = pages.first_position()
    with pytest.raises(WishRetryableError):
        pages.fetch(position)
    ids: list[str] = []
    current: Position | None = position
    while current is not None:  # the retry starts from the same position
        page = pages.fetch(current)
        ids.extend(r["id"] for r in page.records)
        current = page.next_position
    assert len(ids) == len(set(ids)) == 1210


def test_a_saturated_tie_without_released_at_is_downloaded() -> None:
    orders = [make_order(i, T0) for i in range(600)]
    for o in orders:
        o["released_at"] = None
    orders.append(make_order(999, T0 + timedelta(seconds=5)))
    lister = NullSafeLister(orders)
    ids = pull_ids(lister, limit=500)
    assert len(ids) == len(set(ids)) == 601
    assert lister.downloads == 1


class NullSafeLister(InclusiveLister):
    """Like Wish, leaves out an order without ``released_at`` from a ``released_at`` filter."""

    def list_orders(self, **p: Any) -> list[Any]:
        if p.get("released_at_min") is None and p.get("released_at_max") is None:
            saved = self.orders
            self.orders = [dict(o, released_at=o["released_at"] or o["updated_at"]) for o in saved]
            try:
                rows = super().list_orders(**p)
            finally:
                self.orders = saved
            by_id = {o["id"]: o for o in saved}
            return [by_id[r["id"]] for r in rows]
        return super().list_orders(**p)


def test_window_bounds_are_inclusive() -> None:
    orders = [make_order(i, T0 + timedelta(seconds=i)) for i in range(10)]
    ids = pull_ids(InclusiveLister(orders), limit=3, start=T0 + timedelta(seconds=2), end=T0 + timedelta(seconds=6))
    assert ids == [f"{i:024x}" for i in range(2, 7)]


def test_position_round_trips_through_json() -> None:
    position = Position(T0 + timedelta(milliseconds=5), frozenset({"b", "a"}))
    assert Position.from_json(position.to_json()) == position


@pytest.mark.parametrize("seed", range(5))
def test_random_tie_patterns_read_every_order_exactly_once(seed: int) -> None:
    rng = random.Random(seed)
    orders = []
    t = T0
    for i in range(800):
        if rng.random() < 0.4:
            t += timedelta(milliseconds=rng.choice([1, 2, 1000]))
        orders.append(make_order(i, t, released=T0 + timedelta(seconds=rng.randint(0, 50))))
    limit = rng.choice([5, 17, 50])
    ids = pull_ids(InclusiveLister(orders, seed=seed), limit=limit)
    assert sorted(ids) == sorted(o["id"] for o in orders)


def test_a_tie_is_read_one_page_at_a_time() -> None:
    """Thousands of orders updated at one instant (a bulk change) never sit in memory together."""
    same = T0 + timedelta(hours=1)
    orders = [make_order(i, T0 + timedelta(seconds=i)) for i in range(30)]
    orders += [make_order(1000 + i, same, released=T0 + timedelta(seconds=i // 3)) for i in range(1200)]
    orders += [make_order(5000 + i, same + timedelta(seconds=1 + i)) for i in range(30)]
    pages = list(OrderPages(InclusiveLister(orders, seed=3), start=None, end=None, limit=100))
    assert max(len(p.records) for p in pages) <= 100
    assert sum(1 for p in pages if p.next_position is not None and p.next_position.in_tie) >= 11
    ids = [r["id"] for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 1260


def test_a_pull_resumes_inside_a_tie_from_its_serialised_position() -> None:
    """A retried task starts from the JSON position the last committed page left, mid-tie too."""
    same = T0 + timedelta(hours=1)
    orders = [make_order(i, T0 + timedelta(milliseconds=i)) for i in range(95)]
    orders += [make_order(1000 + i, same, released=T0 + timedelta(seconds=i // 7)) for i in range(700)]
    orders += [make_order(5000 + i, same, released=T0 + timedelta(seconds=3), state="SHIPPED") for i in range(40)]
    orders += [make_order(9000 + i, same + timedelta(milliseconds=1 + i)) for i in range(20)]
    lister = InclusiveLister(orders, seed=9)
    ids: list[str] = []
    position: Position | None = OrderPages(lister, start=None, end=None, limit=50).first_position()
    resumed_in_tie = 0
    while position is not None:
        # a new paginator per page, fed the position through JSON, as pull tasks hand it on
        pages = OrderPages(lister, start=None, end=None, limit=50)
        page = pages.fetch(Position.from_json(position.to_json()))
        resumed_in_tie += position.in_tie
        ids.extend(r["id"] for r in page.records)
        position = page.next_position
    assert resumed_in_tie >= 14
    assert sorted(ids) == sorted(o["id"] for o in orders)
    assert len(ids) == len(set(ids))


def test_a_tie_position_round_trips_through_json() -> None:
    position = Position(
        T0, frozenset({"a"}), in_tie=True, tie_released_min=T0 - timedelta(days=1), tie_seen=frozenset({"c", "b"})
    )
    assert Position.from_json(position.to_json()) == position
    assert Position.from_json(Position(T0, in_tie=True).to_json()) == Position(T0, in_tie=True)


class ExclusiveMinLister(InclusiveLister):
    """Wish under the "exclusive_min" read profile: ``updated_at_min`` leaves its own instant out."""

    def list_orders(self, **p: Any) -> list[Any]:
        lower = p.get("updated_at_min")
        if lower is not None:
            lower = lower if isinstance(lower, datetime) else parse_wish_time(lower)
            p = {**p, "updated_at_min": lower + timedelta(milliseconds=1)}
        return super().list_orders(**p)


@pytest.mark.parametrize("seed", range(5))
def test_an_exclusive_updated_at_min_loses_nothing(seed: int) -> None:
    rng = random.Random(seed)
    orders = []
    for i in range(1500):
        at = T0 + timedelta(milliseconds=rng.choice([0, 0, 0, 1, 2, 5, 9, 40]) * 1000 + rng.randrange(3))
        orders.append(make_order(i, at, released=at + timedelta(seconds=rng.randrange(3))))
    orders += [make_order(5000 + i, T0 + timedelta(seconds=90)) for i in range(700)]  # needs the download job
    lister = ExclusiveMinLister(orders, seed)
    ids = pull_ids(lister, limit=100, start=T0, end=T0 + timedelta(minutes=5))
    assert sorted(ids) == sorted(o["id"] for o in orders)
