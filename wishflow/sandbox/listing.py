"""Order reads: one order, keyset-paged lists, and the bulk download jobs."""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from . import errors as E
from .create import CreationPart
from .data import object_id
from .errors import SandboxError
from .model import _ID_MAX, ORDER_TYPE_FILTERS, STATES, is_object_id
from .query import _parse_limit, _parse_multi, _parse_sort, _single, _walk
from .read_profiles import read_profile
from .timeutil import DAY_MS, dt_to_ms, fmt_ms, parse_bound_ms


class ListingPart(CreationPart):
    """``GET /orders``, ``GET /orders/{id}`` and the batch download jobs."""

    def get_order_raw(self, order_id: str) -> bytes:
        """``GET /orders/{id}``: the order's stored JSON document, as bytes (no parse, no copy)."""
        with self.lock:
            self.tick()
            return self._rec(order_id).raw

    def get_order(self, order_id: str) -> dict[str, Any]:
        """The order's document, parsed (a fresh object the caller may change)."""
        doc: dict[str, Any] = orjson.loads(self.get_order_raw(order_id))
        return doc

    def order_ids(self) -> list[str]:
        """Every order id held, in insertion order (a snapshot taken under the lock)."""
        with self.lock:
            return list(self._orders)

    def list_orders_raw(self, params: dict[str, list[str]] | None = None, **kwargs: Any) -> list[bytes]:
        """``GET /orders`` with Wish's keyset semantics, each order as its stored JSON bytes.

        ``params`` is the parsed query string (each value a list of strings); keyword arguments are a
        convenience for direct calls (datetimes become timestamps, lists stay lists).
        """
        query: dict[str, list[str]] = {k: list(v) for k, v in (params or {}).items()}
        for key, value in kwargs.items():
            if value is None:
                continue
            if isinstance(value, datetime):
                value = fmt_ms(dt_to_ms(value))
            query[key] = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        with self.lock:
            self.tick()
            return self._list(query)

    def list_orders(self, params: dict[str, list[str]] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        """``list_orders_raw`` with each order parsed."""
        return [orjson.loads(raw) for raw in self.list_orders_raw(params, **kwargs)]

    def _list(self, query: dict[str, list[str]], limit_override: int | None = None) -> list[bytes]:
        limit = limit_override or _parse_limit(query, default=50, maximum=500)
        field_name, desc = _parse_sort(query, ("updated_at", "released_at"), "updated_at")
        states = _parse_multi(query, "states", STATES, max_items=5) or list(STATES)
        bounds = {}
        for name in ("updated_at_min", "updated_at_max", "released_at_min", "released_at_max"):
            value = _single(query, name)
            if value:
                try:
                    bounds[name] = parse_bound_ms(value, upper=name.endswith("_max"))
                except ValueError:
                    raise SandboxError(E.INVALID_PARAMETER, f"{name} is not a valid ISO 8601 date-time") from None
        if "updated_at_min" in bounds and not read_profile(self.config.read_profile).updated_at_min_inclusive:
            bounds["updated_at_min"] += 1  # read profile "exclusive_min": the instant itself is left out
        order_type = _single(query, "order_type")
        if order_type and order_type not in ORDER_TYPE_FILTERS:
            raise SandboxError(E.INVALID_PARAMETER, f"order_type must be one of {', '.join(ORDER_TYPE_FILTERS)}")
        lo_ms = bounds.get(f"{field_name}_min")
        hi_ms = bounds.get(f"{field_name}_max")
        other = "released_at" if field_name == "updated_at" else "updated_at"
        other_lo = bounds.get(f"{other}_min")
        other_hi = bounds.get(f"{other}_max")
        iterators = []
        for state in dict.fromkeys(states):
            keys = self._idx[(field_name, state)]
            lo = bisect.bisect_left(keys, (lo_ms, "")) if lo_ms is not None else 0
            hi = bisect.bisect_right(keys, (hi_ms, _ID_MAX)) if hi_ms is not None else len(keys)
            if lo < hi:
                iterators.append(_walk(keys, lo, hi, desc))
        merged: Iterable[tuple[int, str]] = (
            iterators[0] if len(iterators) == 1 else heapq.merge(*iterators, reverse=desc)
        )
        out: list[bytes] = []
        orders = self._orders
        for _, oid in merged:
            rec = orders[oid]
            if other_lo is not None or other_hi is not None:
                stamp = rec.released_ms if other == "released_at" else rec.updated_ms
                if (other_lo is not None and stamp < other_lo) or (other_hi is not None and stamp > other_hi):
                    continue
            if order_type and order_type not in rec.types:
                continue
            out.append(rec.raw)
            if len(out) >= limit:
                break
        return out

    def create_download_job(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """``POST /orders/bulk_get``: snapshot the matching orders; READY when first polled."""
        with self.lock:
            now = self.tick()
            q = dict(query)
            limit_values = q.pop("limit", None)
            limit = 10_000_000
            if limit_values:
                try:
                    limit = int(limit_values[-1])
                except ValueError:
                    raise SandboxError(E.INVALID_PARAMETER, "limit must be an integer") from None
                if limit < 1:
                    raise SandboxError(E.INVALID_PARAMETER, "limit must be at least 1")
            rows = self._list(q, limit_override=limit)
            jid = object_id(random.Random(f"{self.config.seed}:job:{len(self._jobs)}"), now)
            self._jobs[jid] = {
                "id": jid,
                "status": "PENDING",
                "created_at": fmt_ms(now),
                "total_count": len(rows),
                "processed_count": 0,
                "_body": b"[" + b",".join(rows) + b"]",
                "_created_ms": now,
            }
            return self._public_job(self._jobs[jid], None)

    def get_download_job(self, job_id: str, base_url: str | None) -> dict[str, Any]:
        """``GET /orders/bulk_get/{id}``: a download job's status; a pending job is ready when asked.

        A ready job lists its file's URL under ``base_url`` and expires three days after completion.
        """
        with self.lock:
            now = self.tick()
            job = self._jobs.get(job_id) if is_object_id(job_id) else None
            if job is None:
                raise SandboxError(E.NO_SUCH_JOB, "There is no such download job for the merchant.")
            if job["status"] == "PENDING":
                job["status"] = "READY"
                job["processed_count"] = job["total_count"]
                job["completed_at"] = fmt_ms(now)
                job["expiry_time"] = fmt_ms(now + 3 * DAY_MS)
            return self._public_job(job, base_url)

    def _public_job(self, job: dict[str, Any], base_url: str | None) -> dict[str, Any]:
        out = {k: v for k, v in job.items() if not k.startswith("_")}
        if job["status"] == "READY":
            out["file_urls"] = [f"{base_url or ''}/sandbox/files/orders/{job['id']}.json"]
        return out

    def download_file(self, job_id: str) -> bytes:
        """The file of a ready download job (``GET /sandbox/files/orders/{id}.json``)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job["status"] != "READY":
                raise SandboxError(E.NO_SUCH_JOB, "There is no such download job for the merchant.")
            body: bytes = job["_body"]
            return body
