"""The webhook receiver's per-store token bucket (wishflow.webhooks.secrets.RateLimiter), on a fake
clock: no test waits for real time.
"""

from __future__ import annotations

from wishflow.webhooks.secrets import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_refused() -> None:
    limiter = RateLimiter(per_minute=60, burst=3, clock=Clock())
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)  # one token a second
    assert limiter.allow("a")
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.now += 0.5
    assert not limiter.allow("a")  # half a token is not a delivery
    clock.now += 0.5
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.now += 3600  # an hour idle refills to the burst, not to 3600
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]


def test_stores_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock())
    assert limiter.allow("flooded")
    assert not limiter.allow("flooded")
    assert limiter.allow("quiet")
