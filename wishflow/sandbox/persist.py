"""Saving a sandbox to a SQLite file and loading it back, so a served sandbox survives a restart.

The whole state is written in one transaction (orders one row each, everything else as JSON in a
key/value table) when the server stops, and on ``POST /sandbox/save``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sqlite3
from collections import Counter, deque
from typing import Any

import orjson

from .config import FaultConfig, SandboxConfig
from .core import OrderRec, Sandbox

SCHEMA_VERSION = 1


def _rng_state(rng: Any) -> Any:
    return rng.getstate()


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def save_state(sandbox: Sandbox, path: str) -> None:
    """Write the sandbox's whole state to ``path`` (under its lock), so a restarted server resumes it."""
    with sandbox.lock:
        meta: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "seed": sandbox.config.seed,
            "now_ms": sandbox.clock.now_ms(),
            "running": sandbox.clock.running,
            "last_tick_ms": sandbox._last_tick_ms,
            "rng": _rng_state(sandbox._rng),
            "id_rng": _rng_state(sandbox._id_rng),
            "fault_rng": _rng_state(sandbox.fault_rng),
            "faults": sandbox.faults.to_dict(),
            "access_token": sandbox.access_token,
            "token_counter": sandbox._token_counter,
            "tokens": sandbox._tokens,
            "refresh_tokens": sandbox._refresh_tokens,
            "auth_codes": sandbox._auth_codes,
            "auth_code": sandbox.auth_code,
            "recent_recipients": list(sandbox._recent_recipients),
            "writes": sandbox._writes,
            "events": sandbox._events,
            "event_seq": next(sandbox._event_seq),
            "tickets": sandbox._tickets,
            "penalties": sandbox._penalties,
            "jobs": {k: {**v, "_body": v["_body"].decode()} for k, v in sandbox._jobs.items()},
            "label_counter": sandbox._label_counter,
            "request_stats": [[k[0], k[1], n] for k, n in sandbox.request_stats.items()],
            "next_release_ms": sandbox._next_release_ms,
        }
        sandbox._event_seq = itertools.count(meta["event_seq"] + 1)
        rows = [
            (
                rec.id,
                orjson.dumps(
                    {
                        "state": rec.state,
                        "updated_ms": rec.updated_ms,
                        "released_ms": rec.released_ms,
                        "types": list(rec.types),
                        "ship_gen": rec.ship_gen,
                        "write_seq": rec.write_seq,
                        "penalized": sorted(rec.penalized),
                    }
                ),
                rec.raw,
            )
            for rec in sandbox._orders.values()
        ]
        meta_blob = orjson.dumps(meta)
    tmp = f"{path}.tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    con = sqlite3.connect(tmp)
    try:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        con.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, rec BLOB NOT NULL, raw BLOB NOT NULL)")
        con.execute("INSERT INTO meta VALUES ('state', ?)", (meta_blob,))
        con.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
        con.commit()
    finally:
        con.close()
    os.replace(tmp, path)


def load_state(path: str, config: SandboxConfig) -> Sandbox | None:
    """The sandbox saved in ``path``, or None when there is no such file (yet)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
        if row is None:
            return None
        meta = orjson.loads(row[0])
        orders = con.execute("SELECT id, rec, raw FROM orders").fetchall()
    finally:
        con.close()
    cfg = dataclasses.replace(config, orders=0, seed=meta["seed"])
    sandbox = Sandbox(cfg)
    with sandbox.lock:
        sandbox.clock.set_ms(meta["now_ms"])
        sandbox.clock.running = meta["running"]
        sandbox._last_tick_ms = meta["last_tick_ms"]
        sandbox._rng.setstate(_tuplify(meta["rng"]))
        sandbox._id_rng.setstate(_tuplify(meta["id_rng"]))
        sandbox.fault_rng.setstate(_tuplify(meta["fault_rng"]))
        sandbox.faults = FaultConfig.from_dict(meta["faults"])
        sandbox.access_token = meta["access_token"]
        sandbox._token_counter = meta["token_counter"]
        sandbox._tokens = meta["tokens"]
        sandbox._refresh_tokens = meta["refresh_tokens"]
        sandbox._auth_codes = meta["auth_codes"]
        sandbox.auth_code = meta["auth_code"]
        sandbox._recent_recipients = deque(meta["recent_recipients"], maxlen=300)
        sandbox._writes = meta["writes"]
        sandbox._events = [tuple(e) for e in meta["events"]]
        sandbox._event_seq = itertools.count(meta["event_seq"])
        sandbox._tickets = meta["tickets"]
        sandbox._penalties = meta["penalties"]
        sandbox._jobs = {k: {**v, "_body": v["_body"].encode()} for k, v in meta["jobs"].items()}
        sandbox._label_counter = meta["label_counter"]
        sandbox.request_stats = Counter({(a, b): n for a, b, n in meta["request_stats"]})
        sandbox._next_release_ms = meta["next_release_ms"]
        for key in sandbox._idx:
            sandbox._idx[key] = []
        sandbox._orders = {}
        sandbox._tracking_index = {}
        for oid, rec_blob, raw in orders:
            info = orjson.loads(rec_blob)
            rec = OrderRec(
                oid,
                info["state"],
                info["updated_ms"],
                info["released_ms"],
                tuple(info["types"]),
                bytes(raw),
                info["ship_gen"],
                info["write_seq"],
                set(info["penalized"]),
            )
            sandbox._orders[oid] = rec
            sandbox._idx[("updated_at", rec.state)].append((rec.updated_ms, oid))
            sandbox._idx[("released_at", rec.state)].append((rec.released_ms, oid))
            for tracking in orjson.loads(raw).get("tracking_information") or ():
                number = tracking.get("tracking_number") if isinstance(tracking, dict) else None
                if number:
                    sandbox._tracking_index.setdefault(number, set()).add(oid)
        for keys in sandbox._idx.values():
            keys.sort()
    return sandbox
