"""The plain-code limit: what a careful engineer writes without validation or orchestration.

httpx fetches Wish's pages (keyset on ``updated_at``, ties skipped by id at page edges), orjson
parses them, a second thread flattens the rows and COPYs them into a staging table, then one
``INSERT ... ON CONFLICT`` merges them: fetching and loading overlap. Wishflow's throughput is
reported as a share of this one's, measured in the same run on the same sandbox.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg2

DDL = """
CREATE TABLE IF NOT EXISTS plain_orders (
    order_id text PRIMARY KEY, state text, updated_at timestamptz, released_at timestamptz,
    sku text, quantity int, price numeric(18,4), currency text, country_code text, raw jsonb
);
CREATE TEMP TABLE IF NOT EXISTS plain_stage (LIKE plain_orders) ON COMMIT DELETE ROWS;
"""


def _escape(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _row(o: dict[str, Any]) -> str:
    pay = (o.get("order_payment") or {}).get("general_payment_details") or {}
    price = pay.get("product_price") or {}
    addr = (o.get("full_address") or {}).get("shipping_detail") or {}
    values = (
        o["id"],
        o.get("state"),
        o.get("updated_at"),
        o.get("released_at"),
        (o.get("product_information") or {}).get("sku"),
        pay.get("product_quantity"),
        price.get("amount"),
        price.get("currency_code"),
        addr.get("country_code"),
        orjson.dumps(o).decode(),
    )
    return "\t".join(_escape(v) for v in values)


def run(api_url: str, token: str, dsn: str, limit: int = 500) -> int:
    """Load every order; returns how many were fetched."""
    pages: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=4)
    fetched = 0
    failure: list[BaseException] = []

    def fetch() -> None:
        try:
            fetch_pages()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            pages.put(None)

    def fetch_pages() -> None:
        nonlocal fetched
        headers = {"Authorization": f"Bearer {token}"}
        cursor: str | None = None
        seen: set[str] = set()
        with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
            while True:
                params: dict[str, Any] = {"limit": limit, "sort_by": "updated_at.asc"}
                if cursor:
                    params["updated_at_min"] = cursor
                data = orjson.loads(http.get("/orders", params=params).content)["data"]
                fresh = [o for o in data if o["id"] not in seen]
                fetched += len(fresh)
                pages.put(fresh)
                if len(data) < limit:
                    break
                last = data[-1]["updated_at"]
                if last == cursor:
                    # a full page of ties: a plain loader steps 1 ms past the instant (and may miss some)
                    moved = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(milliseconds=1)
                    last = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
                    seen = set()
                else:
                    seen = {o["id"] for o in data if o["updated_at"] == last}
                cursor = last

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(DDL)
    while (page := pages.get()) is not None:
        if not page:
            continue
        buffer = io.StringIO("\n".join(_row(o) for o in page) + "\n")
        with conn, conn.cursor() as cur:
            cur.copy_expert("COPY plain_stage FROM STDIN", buffer)
            cur.execute(
                "INSERT INTO plain_orders SELECT DISTINCT ON (order_id) * FROM plain_stage "
                "ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, "
                "raw = EXCLUDED.raw WHERE plain_orders.updated_at < EXCLUDED.updated_at"
            )
    thread.join()
    conn.close()
    if failure:
        raise failure[0]
    return fetched


def timed(api_url: str, token: str, dsn: str) -> tuple[int, float]:
    """Run the plain loader once; the orders it loaded and the seconds it took."""
    started = time.perf_counter()
    n = run(api_url, token, dsn)
    return n, time.perf_counter() - started
