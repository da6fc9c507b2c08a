"""One rate limiter: shipping's workers wait at the client's pacer, which paces every holder of the
client; the ship run's ``max_rate`` and ``workers`` tighten that pacer instead of building a second one.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from shipping_helpers import STORE, accepted_tracking

from tasks.shipping import _submitter
from wishflow.api.auth import TokenSet
from wishflow.api.client import WishClient
from wishflow.api.pacing import RequestPacer
from wishflow.shipping import SandboxLabels, default_policy, plan_and_save


class _Frozen:
    """A clock that never moves and a sleep that only records: the pacer's waits, computed, not waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_limit_tightens_the_pacer_and_never_loosens_it() -> None:
    frozen = _Frozen()
    pacer = RequestPacer(sleep=frozen.sleep, clock=frozen.clock)
    pacer.limit(2.0, reserve=8)
    for _ in range(3):
        pacer.acquire()
    assert frozen.slept == [pytest.approx(0.5)]  # a one-second burst of 2, then one every half second
    pacer.limit(10.0, reserve=2)  # a looser caller does not loosen it
    assert (pacer.max_rate, pacer.reserve) == (2.0, 8)
    pacer.limit(None)
    assert pacer.max_rate == 2.0
    with pytest.raises(ValueError, match="max_rate"):
        pacer.limit(0)


def test_shipping_workers_wait_at_the_clients_one_pacer(engine, sandbox, seed) -> None:
    ids = seed(count=10)
    frozen = _Frozen()
    pacer = RequestPacer(sleep=frozen.sleep, clock=frozen.clock)
    tokens = TokenSet(SecretStr(sandbox.access_token), None)
    with WishClient(sandbox.api_url, tokens, timeout=5.0, pacer=pacer) as client:
        plan = plan_and_save(engine, client, STORE, default_policy(), labels=SandboxLabels(sandbox.base_url))
        calls_before, slept_before = pacer.calls, len(frozen.slept)
        url = engine.url.render_as_string(hide_password=False)
        with _submitter(client, url, workers=4, max_rate=3.0) as submitter:
            assert submitter.pacer is client.pacer
            assert (pacer.max_rate, pacer.reserve) == (3.0, 4)
            reports = [submitter.submit_batch(b) for b in plan.batch_ids]
    sent = sum(r.sent for r in reports)
    reads = sum(r.reads for r in reports)
    assert sent == 10
    assert all(len(accepted_tracking(sandbox, oid)) == 1 for oid in ids)
    # every request the four workers made went through the client's pacer, and nothing else paced them:
    # at 3 per second with the clock standing, all but the first burst of 3 had to wait there
    calls = pacer.calls - calls_before
    assert calls == sent + reads
    assert len(frozen.slept) - slept_before == calls - 3
