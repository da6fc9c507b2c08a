"""The benchmark's pre-rendered list server answers ``GET /orders`` exactly as the sandbox does.

bench/prerendered.py serves the sandbox's orders from stored bytes so the benchmark measures the
loaders, not the sandbox; its figures mean something only if every paginator walks it exactly as it
walks the sandbox. Random queries over both fields' bounds, states, limits and sort orders,
including pages inside a tie of many orders at one ``updated_at``, compared answer for answer.
"""

from __future__ import annotations

import random

import orjson

from bench.prerendered import Lister, snapshot
from wishflow.sandbox.config import SandboxConfig
from wishflow.sandbox.core import Sandbox
from wishflow.sandbox.timeutil import fmt_ms

STATES = ["APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED"]


def _query(rng: random.Random, updated: list[int], released: list[int], tie: int) -> dict[str, list[str]]:
    q: dict[str, list[str]] = {
        "limit": [str(rng.choice([1, 5, 50, 500]))],
        "sort_by": [rng.choice(["updated_at.asc", "released_at.asc", "updated_at.desc", "released_at"])],
    }
    for field, stamps in (("updated_at", updated), ("released_at", released)):
        if rng.random() < 0.6:
            q[f"{field}_min"] = [fmt_ms(rng.choice(stamps))]
        if rng.random() < 0.4:
            q[f"{field}_max"] = [fmt_ms(rng.choice(stamps))]
    if rng.random() < 0.2:
        q["states"] = [",".join(rng.sample(STATES, 2))]
    if rng.random() < 0.25:  # inside the tie, as the pull's tie pager asks
        q["updated_at_min"] = q["updated_at_max"] = [fmt_ms(tie)]
    return q


def test_the_prerendered_server_answers_as_the_sandbox() -> None:
    sandbox = Sandbox(SandboxConfig(seed=11, orders=3000))
    # a tie of many orders at one ``updated_at`` inside the history (Wish stamps in milliseconds, a
    # bulk change can stamp many orders alike), made here: the generated history has none
    middle = sorted(rec.updated_ms for rec in sandbox._orders.values())[1500]
    sandbox.create_default_orders(120, template={"updated_at": fmt_ms(middle)})
    snap = snapshot(sandbox)
    lister = Lister(snap)
    assert lister.prerender() >= 6
    updated, released = sorted(snap.updated), sorted(snap.released)
    tie = max(set(updated), key=updated.count)
    assert tie == middle
    assert updated.count(tie) > 100
    rng = random.Random(1)
    for _ in range(300):
        q = _query(rng, updated, released, tie)
        want = orjson.loads(b"[" + b",".join(sandbox._list({k: list(v) for k, v in q.items()})) + b"]")
        got = orjson.loads(lister.answer(q))["data"]
        assert got == want, q
