"""Benchmark: submit tracking for N orders against a rate-limited sandbox through the outbox.

Measures the achieved tracking-write rate as a share of the sandbox's rate limit, and counts orders
with more than one accepted tracking write (duplicates: must be 0). Run:
``python -m bench.bench_shipping --orders 5000 --rate-limit 50``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _mark_valid(engine: Any, store: str) -> None:
    """What the validation stage records for orders that passed (the bench skips GX)."""
    import sqlalchemy as sa

    from wishflow.warehouse.schema import metadata, orders

    validations = metadata.tables["order_validations"]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rows = conn.execute(sa.select(orders.c.order_id, orders.c.updated_at).where(orders.c.store == store)).all()
        conn.execute(
            validations.insert(),
            [
                {
                    "store": store,
                    "order_id": oid,
                    "validated_updated_at": updated,
                    "status": "valid",
                    "blocking_failures": 0,
                    "warning_failures": 0,
                    "run_id": "bench",
                    "validated_at": now,
                    "quarantined_since": None,
                    "released_from_quarantine_at": None,
                    "_loaded_at": now,
                }
                for oid, updated in rows
            ],
        )


def run(orders: int = 5000, rate_limit: int = 50, workers: int = 8, warehouse_url: str | None = None) -> dict:
    """Ship ``orders`` orders against a sandbox limited to ``rate_limit``, with ``workers`` threads; its figures."""
    import httpx
    from pydantic import SecretStr

    from wishflow.api.auth import TokenSet
    from wishflow.api.client import WishClient
    from wishflow.orders.parse import parse_orders
    from wishflow.sandbox import SandboxConfig, serve_in_thread
    from wishflow.shipping import SandboxLabels, Submitter, default_policy, plan_and_save
    from wishflow.warehouse.engine import make_engine, upgrade
    from wishflow.warehouse.orders_writer import load_orders

    store = "bench"
    tmp = tempfile.TemporaryDirectory()
    url = warehouse_url or f"sqlite:///{tmp.name}/warehouse.db"
    upgrade(url)
    engine = make_engine(url)
    running = serve_in_thread(SandboxConfig(seed=11, orders=0, rate_limit=rate_limit))
    try:
        ids = httpx.post(f"{running.base_url}/sandbox/orders", json={"count": orders}, timeout=300).json()
        ids = ids.get("data", ids)["ids"]
        parsed, _ = parse_orders([running.sandbox.get_order(i) for i in ids])
        for start in range(0, len(parsed), 2000):
            load_orders(engine, store, parsed[start : start + 2000])
        _mark_valid(engine, store)
        time.sleep(1.5)  # let the sandbox's token bucket refill after setup
        client = WishClient(running.api_url, TokenSet(SecretStr(running.access_token), None), timeout=30)
        started = time.perf_counter()
        plan = plan_and_save(
            engine, client, store, default_policy(), labels=SandboxLabels(running.base_url), max_batch_size=500
        )
        planned = time.perf_counter()
        with Submitter(client, engine, workers=workers) as submitter:
            sent = 0
            for batch_id in plan.batch_ids:
                sent += submitter.submit_batch(batch_id).sent
            submitted = time.perf_counter()
            waits = client.pacer.waited
        accepted = {i: 0 for i in ids}
        with running.sandbox.lock:
            for oid in ids:
                for w in running.sandbox._writes.get(oid, []):
                    if w.get("endpoint") == "tracking" and w.get("outcome") == "accepted":
                        accepted[oid] += 1
        duplicates = sum(1 for n in accepted.values() if n > 1)
        shipped = sum(1 for n in accepted.values() if n >= 1)
        write_seconds = submitted - planned
        rate = sent / write_seconds if write_seconds > 0 else 0.0
        client.close()
        return {
            "orders": orders,
            "rate_limit": rate_limit,
            "workers": workers,
            "planned": plan.planned,
            "parcels": len(plan.plan.parcels),
            "batches": len(plan.batch_ids),
            "plan_seconds": round(planned - started, 2),
            "submit_seconds": round(write_seconds, 2),
            "writes_sent": sent,
            "orders_shipped": shipped,
            "write_rate_per_s": round(rate, 1),
            "share_of_limit": round(rate / rate_limit, 3) if rate_limit else None,
            "limiter_wait_seconds": round(waits, 1),
            "duplicates": duplicates,
        }
    finally:
        running.stop()
        engine.dispose()
        tmp.cleanup()


def main() -> None:
    """Run the shipping benchmark the command line describes and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--rate-limit", type=int, default=50)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--warehouse-url")
    args = parser.parse_args()
    print(json.dumps(run(args.orders, args.rate_limit, args.workers, args.warehouse_url), indent=2))


if __name__ == "__main__":
    main()
