"""Crash test: the ship flow runs in a subprocess that is SIGKILLed at a random point (a few seeds,
with some responses lost on top); a rerun settles what was left, and every order carries exactly one
accepted tracking write, the one the warehouse recorded.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from shipping_helpers import STORE, accepted_tracking, advance, set_faults

from wishflow.warehouse.shipping_schema import shipments

RUNNER = """
import sys
from flows.ship_orders import ship_orders
ship_orders(store=sys.argv[1], follow_seconds=float(sys.argv[2]), max_batch_size=15)
"""


def _run(env: dict[str, str], kill_after: float | None, follow: float = 0.0) -> int | None:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, STORE, str(follow)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-3000:]
        return proc.returncode
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes the stderr pipe (no file left to the GC)
    return proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_sigkill_at_random_points_then_rerun_ships_each_order_exactly_once(
    seed_value: int, engine, warehouse_url, sandbox, seed, prefect_harness, tmp_path
) -> None:
    from prefect.settings import PREFECT_API_URL

    rng = random.Random(seed_value)
    ids = seed(count=60)
    set_faults(sandbox, response_lost=0.15, paths="/tracking$")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "default: {carrier: YunExpress, service: standard, origin_country: CN}\nworkers: 2\nmax_rate: 25.0\n"
    )
    env = {
        **os.environ,
        "WISH_API_BASE_URL": sandbox.api_url,
        "WISHFLOW_PROFILE": "sandbox",
        "WISH_ACCESS_TOKEN": sandbox.access_token,
        "WISHFLOW_WAREHOUSE_URL": warehouse_url,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        # the run settings live in the shipping policy (not on the flow's form)
        "WISHFLOW_SHIPPING_POLICY": str(policy),
    }
    kills = [rng.uniform(2.0, 7.0) for _ in range(2)]
    for delay in kills:
        # killed mid-run, or (on a fast machine) already finished before the kill: both must settle
        assert _run(env, delay) in (-signal.SIGKILL, 0)
    set_faults(sandbox)
    advance(sandbox, 5)
    _run(env, None, follow=0.0)  # settles what the killed runs left, ships the rest
    advance(sandbox, 5)
    _run(env, None, follow=10.0)  # follows to the end
    with engine.connect() as conn:
        rows = conn.execute(sa.select(shipments).where(shipments.c.store == STORE)).all()
    by_order: dict[str, list] = {}
    for r in rows:
        by_order.setdefault(r.order_id, []).append(r)
    assert set(by_order) == set(ids)
    for oid in ids:
        accepted = accepted_tracking(sandbox, oid)
        states = [(r.state, r.attempts, r.last_error) for r in by_order[oid]]
        assert len(accepted) == 1, (seed_value, kills, oid, accepted, states)
        confirmed = [r for r in by_order[oid] if r.state == "confirmed"]
        assert len(confirmed) == 1, (oid, [(r.state, r.last_error) for r in by_order[oid]])
        assert confirmed[0].tracking_number == accepted[0]["body"]["tracking_number"]
        assert sandbox.sandbox.get_order(oid)["tracking_information"][0]["tracking_number"] == (
            confirmed[0].tracking_number
        )
