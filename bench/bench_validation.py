"""Benchmark: validate ``n`` synthetic orders with the GX suites (in memory, in the flow's batches).

    python -m bench.bench_validation [n]

Roughly 1 in 50 orders carries a defect, so failure attribution is exercised as in production.
The one-off GX import and context build are measured apart from the validation itself.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from wishflow.validation.store import DEFAULT_BATCH_SIZE

BATCH = DEFAULT_BATCH_SIZE  # as the flow validates


def synthetic_orders(n: int, now: datetime, seed: int = 7) -> pd.DataFrame:
    """``n`` flattened orders to a few countries, ~2% of them defective in varied ways."""
    rng = np.random.default_rng(seed)
    countries = np.array(["US", "GB", "DE", "FR", "CA", "BR"])
    zips = {"US": "62701", "GB": "SW1A 1AA", "DE": "10115", "FR": "75001", "CA": "K1A 0B1", "BR": "01310-100"}
    country = countries[rng.integers(0, len(countries), n)]
    released = pd.Timestamp(now) - pd.to_timedelta(rng.integers(60, 4 * 86400, n), unit="s")
    frame = pd.DataFrame(
        {
            "order_id": [f"{i:024x}" for i in range(n)],
            "state": "APPROVED",
            "released_at": released,
            "updated_at": released,
            "expected_ship_time": released + pd.Timedelta(days=5),
            "sku": [f"SKU-{i % 997}" for i in range(n)],
            "quantity": rng.integers(1, 4, n),
            "product_price": np.round(rng.uniform(1, 80, n), 2),
            "shipping_price": 3.99,
            "payment_total": 20.0,
            "currency_code": "USD",
            "recipient_name": [f"Customer {i}" for i in range(n)],
            "street_address1": [f"{i % 9999} Main St" for i in range(n)],
            "street_address2": None,
            "street_address3": None,
            "city": "Springfield",
            "province": "SP",
            "zipcode": [zips[c] for c in country],
            "country_code": country,
            "phone_number": "+1 217 555 0100",
        }
    )
    bad = rng.random(n) < 0.02
    frame.loc[bad & (rng.random(n) < 0.5), "zipcode"] = None
    frame.loc[bad & (rng.random(n) < 0.3), "quantity"] = 0
    frame.loc[bad & (rng.random(n) < 0.3), "country_code"] = "XX"
    return frame


def run(n: int = 100_000) -> dict[str, Any]:
    """Validate ``n`` synthetic orders; returns seconds, rows/s and what was found."""
    started = time.perf_counter()
    from wishflow.validation.gx_runtime import gx_runtime
    from wishflow.validation.validate import validate_frame

    gx_runtime()
    setup = time.perf_counter() - started
    now = datetime.now(UTC) + timedelta(minutes=1)
    frame = synthetic_orders(n, now)
    started = time.perf_counter()
    invalid = failures = 0
    for start in range(0, n, BATCH):
        outcome = validate_frame(frame.iloc[start : start + BATCH], now)
        invalid += outcome.invalid_count
        failures += len(outcome.failures)
    seconds = time.perf_counter() - started
    return {
        "name": "validation",
        "rows": n,
        "batch_size": BATCH,
        "seconds": round(seconds, 2),
        "rows_per_second": round(n / seconds),
        "gx_setup_seconds": round(setup, 2),
        "invalid_orders": invalid,
        "failures": failures,
    }


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
