"""Reliability harness: a sandbox kept alive across kills, the order cycle in a subprocess that is
SIGKILLed on a trigger, fresh PostgreSQL warehouses, and the invariant checks of DESIGN.md §4.

Used by the tests in this folder and by ``tests/reliability/report.py`` (which writes
``docs/reliability.md``). No pytest imports: the report runs it as a plain script.

Prefect: the cycle runs as the real ``order_cycle`` flow in each subprocess, pointed through
``PREFECT_API_URL`` at one Prefect API started once by the caller (``prefect_test_harness``), so no
process pays for a temporary server (DESIGN.md §7); each process still pays ~3-6 s of imports,
which is why CI kills few times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
STORE = "default"
PG_ENV = "WISHFLOW_TEST_POSTGRES_URL"
DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
#: A frozen sandbox clock: nothing changes in the sandbox except what the runs do. Not ahead of real
#: time: validation judges release times against the real clock.
CLOCK_START = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)


FIGURES_ENV = "WISHFLOW_RELIABILITY_FIGURES"
#: ``WISHFLOW_RELIABILITY_LONG=1`` (``make reliability``): many seeds and bigger stores.
LONG = os.environ.get("WISHFLOW_RELIABILITY_LONG") == "1"


def record_figure(kind: str, **data: Any) -> None:
    """Append one JSON line of figures for ``report.py`` (when it asked for them)."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    with open(path, "ab") as out:
        out.write(orjson.dumps({"kind": kind, **data}, default=str) + b"\n")


# -- the sandbox ---------------------------------------------------------------------------------


def start_sandbox(seed: int, orders: int, *, bad_order_share: float = 0.05, **faults: Any) -> Any:
    """A sandbox on a free loopback port, in a thread of this process (so it outlives the killed
    cycle processes), frozen clock, writes completing within their own request.
    """
    from wishflow.sandbox import FaultConfig, SandboxConfig, serve_in_thread

    config = SandboxConfig(
        seed=seed,
        orders=orders,
        start_time=CLOCK_START,
        clock_running=False,
        ship_processing_seconds=0,
        bad_order_share=bad_order_share,
        faults=FaultConfig(**faults) if faults else FaultConfig(),
    )
    return serve_in_thread(config)


def point_flows_at(monkeypatch: Any, running: Any, warehouse_url: str) -> None:
    """Environment configuration (no blocks) for flows run in this process."""
    monkeypatch.setenv("WISH_API_BASE_URL", running.api_url)
    monkeypatch.setenv("WISHFLOW_PROFILE", "sandbox")  # a sandbox on a random port, on purpose
    monkeypatch.setenv("WISH_ACCESS_TOKEN", running.access_token)
    monkeypatch.setenv("WISH_REFRESH_TOKEN", running.refresh_token)
    monkeypatch.setenv("WISH_CLIENT_ID", running.client_id)
    monkeypatch.setenv("WISH_CLIENT_SECRET", running.client_secret)
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    # the write policy's settle horizon (production: hours) stands at twice the client's default
    # 30 s timeout here: the sandbox's late writes land within seconds (tests that shorten the
    # client's timeout shorten this too)
    monkeypatch.setenv("WISHFLOW_WRITE_SETTLE_SECONDS", "60")


def set_faults(running: Any, **mix: Any) -> None:
    import httpx

    httpx.put(f"{running.base_url}/sandbox/faults", json=mix, timeout=30).raise_for_status()


def advance(running: Any, seconds: float) -> None:
    import httpx

    httpx.post(f"{running.base_url}/sandbox/clock", json={"advance_seconds": seconds}, timeout=30).raise_for_status()


def sandbox_orders(running: Any) -> dict[str, dict[str, Any]]:
    """Every order the sandbox holds, as it would serve it (id -> payload)."""
    sb = running.sandbox
    with sb.lock:
        return {oid: orjson.loads(rec.raw) for oid, rec in sb._orders.items()}


def sandbox_writes(running: Any) -> dict[str, list[dict[str, Any]]]:
    sb = running.sandbox
    with sb.lock:
        return {oid: [dict(w) for w in ws] for oid, ws in sb._writes.items()}


def write_count(running: Any) -> int:
    """Writes the sandbox logged so far (read without the lock: a poll, not a decision)."""
    try:
        return sum(len(w) for w in list(running.sandbox._writes.values()))
    except RuntimeError:  # the dict changed size while we read it
        return -1


# -- warehouses ----------------------------------------------------------------------------------


def postgres_admin_url() -> str:
    return os.environ.get(PG_ENV) or DEFAULT_PG_URL


@contextmanager
def fresh_postgres(admin_url: str | None = None, prefix: str = "wishflow_rel") -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    from wishflow.warehouse.engine import upgrade

    admin_url = admin_url or postgres_admin_url()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- the cycle in a subprocess -------------------------------------------------------------------


def cycle_env(
    running: Any, warehouse_url: str, *, prefect_api_url: str | None, client_timeout: float = 10.0
) -> dict[str, str]:
    """The killed cycle's environment. ``client_timeout`` shortens the Wish client's timeout (the
    default 30 s would make a rerun after a kill mid-send wait 60 s for that send to settle).
    """
    env = {
        **os.environ,
        "WISH_API_BASE_URL": running.api_url,
        "WISHFLOW_PROFILE": "sandbox",
        "WISH_ACCESS_TOKEN": running.access_token,
        "WISH_REFRESH_TOKEN": running.refresh_token,
        "WISH_CLIENT_ID": running.client_id,
        "WISH_CLIENT_SECRET": running.client_secret,
        "WISHFLOW_WAREHOUSE_URL": warehouse_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS": "8",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "WISHFLOW_SHIP_WORKERS": "4",
        "PYTHONPATH": str(ROOT),
    }
    if prefect_api_url:
        env["PREFECT_API_URL"] = prefect_api_url
    if client_timeout:
        env["WISHFLOW_RELIABILITY_CLIENT_TIMEOUT"] = str(client_timeout)
    # a send settles (may no longer land) after twice the client's timeout: the sandbox's delays
    # (late writes, timeouts) are bounded by it; the production horizon is a policy of hours
    env["WISHFLOW_WRITE_SETTLE_SECONDS"] = str(2 * (client_timeout or 30.0))
    return env


@dataclass
class RunRecord:
    """One subprocess run: how it ended and, when killed, what triggered the kill."""

    mode: str
    trigger: str | None
    killed: bool
    returncode: int | None
    seconds: float
    writes_before: int = 0
    writes_at_kill: int | None = None
    stderr_tail: str = ""


@dataclass
class KillTrigger:
    """When to SIGKILL: ``after_writes`` (right after the sandbox logs the n-th new write: between a
    Wish write and the warehouse write that records it), ``after_stages`` (as the run records the
    start of its n-th stage in ``pipeline_runs``), or ``delay`` (seconds after the flow started).
    """

    kind: str
    value: float

    def describe(self) -> str:
        return f"{self.kind}={self.value:g}"


#: Trigger kinds by kill number: every seed kills between a Wish write and its record twice, once as
#: the n-th stage of the cycle starts (1 pull, 2 validate, 3 ship, 4 track), once after a delay.
TRIGGER_CYCLE = ("after_writes", "after_stages", "after_writes", "delay")


def random_trigger(rng: random.Random, orders: int, kill_number: int = 0) -> KillTrigger:
    kind = TRIGGER_CYCLE[kill_number % len(TRIGGER_CYCLE)]
    if kind == "after_writes":
        return KillTrigger(kind, rng.randint(1, 5))  # small: later runs have fewer orders left to ship
    if kind == "after_stages":
        return KillTrigger(kind, rng.randint(1, 4))
    return KillTrigger(kind, round(rng.uniform(0.5, 12.0), 2))


def _stages_started(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM pipeline_runs").scalar_one())
    except sa.exc.SQLAlchemyError:
        return 0


def run_cycle(
    env: dict[str, str],
    *,
    mode: str = "cycle",
    running: Any = None,
    trigger: KillTrigger | None = None,
    timeout: float = 600.0,
) -> RunRecord:
    """Run ``tests/reliability/run_cycle.py`` (mode ``cycle`` or ``pull``); with a trigger, SIGKILL it
    when the trigger fires (a run that ends first is recorded as not killed).
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.run_cycle", STORE, mode],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = threading.Event()
    err_lines: list[str] = []

    def read_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY"):
                ready.set()

    def read_err() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            del err_lines[:-200]

    readers = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in readers:
        t.start()
    writes_before = write_count(running) if running is not None else 0
    killed = False
    at_kill: int | None = None
    if trigger is not None:
        engine = sa.create_engine(env["WISHFLOW_WAREHOUSE_URL"]) if trigger.kind == "after_stages" else None
        stages_before = _stages_started(engine) if engine is not None else 0
        deadline = time.monotonic() + timeout
        fired = False
        while proc.poll() is None and time.monotonic() < deadline:
            if trigger.kind == "delay":
                if ready.wait(0.05):
                    time.sleep(trigger.value)
                    fired = True
            elif trigger.kind == "after_writes":
                fired = write_count(running) >= writes_before + trigger.value
            elif trigger.kind == "after_stages":
                fired = _stages_started(engine) >= stages_before + trigger.value  # type: ignore[arg-type]
            if fired:
                break
            time.sleep(0.003 if trigger.kind == "after_writes" else 0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed = True
            at_kill = write_count(running) if running is not None else None
        if engine is not None:
            engine.dispose()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    for t in readers:
        t.join(timeout=10)
    # each pipe read to its end is closed here, not by the GC (a ResourceWarning); never under a reader still on it
    for reader, stream in zip(readers, (proc.stdout, proc.stderr), strict=True):
        if stream is not None and not reader.is_alive():
            stream.close()
    return RunRecord(
        mode=mode,
        trigger=trigger.describe() if trigger else None,
        killed=killed,
        returncode=proc.returncode,
        seconds=round(time.monotonic() - started, 1),
        writes_before=writes_before,
        writes_at_kill=at_kill,
        stderr_tail="".join(err_lines[-60:]),
    )


def settle(env: dict[str, str], running: Any, *, max_runs: int = 4) -> list[RunRecord]:
    """Rerun the cycle until one run completes (every stage succeeded)."""
    runs: list[RunRecord] = []
    for _ in range(max_runs):
        runs.append(run_cycle(env, running=running))
        if runs[-1].returncode == 0:
            return runs
    raise AssertionError(f"the cycle did not complete in {max_runs} runs:\n{runs[-1].stderr_tail}")


def final_pull(env: dict[str, str], running: Any) -> RunRecord:
    """Move the sandbox clock past the pull's safety lag, then pull once more (no faults)."""
    set_faults(running)
    advance(running, 120)
    record = run_cycle(env, mode="pull", running=running)
    assert record.returncode == 0, record.stderr_tail
    return record


# -- invariants ----------------------------------------------------------------------------------


def _milestones(order: dict[str, Any]) -> list[tuple[Any, Any]]:
    records = order.get("fulfillment_records") or []
    return sorted((r.get("type"), r.get("created_at") or r.get("at")) for r in records if isinstance(r, dict))


def _tracking_number(order: dict[str, Any]) -> str | None:
    info = order.get("tracking_information") or []
    first = info[0] if info and isinstance(info[0], dict) else {}
    return first.get("tracking_number") or None


@dataclass
class InvariantReport:
    orders: int = 0
    in_warehouse: int = 0
    quarantined: int = 0
    rejected: int = 0
    lost: list[str] = field(default_factory=list)
    double_shipped: list[str] = field(default_factory=list)
    shipped_while_quarantined: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    duplicate_rows: int = 0
    accepted_writes: int = 0
    response_lost_writes: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.double_shipped or self.shipped_while_quarantined or self.mismatches or self.duplicate_rows
        )

    def summary(self) -> str:
        return (
            f"{self.orders} orders: {self.in_warehouse} in warehouse ({self.quarantined} quarantined), "
            f"{self.rejected} rejected; lost {len(self.lost)}, shipped twice {len(self.double_shipped)}, "
            f"shipped while quarantined {len(self.shipped_while_quarantined)}, mismatches {len(self.mismatches)}, "
            f"duplicate rows {self.duplicate_rows}"
        )


def check_invariants(running: Any, warehouse_url: str) -> InvariantReport:
    """Invariants 1 and 3 plus the warehouse agreeing with Wish, after a final clean pull:

    - every sandbox order is in ``orders`` or in ``rejected_records`` with a reason (nothing lost);
    - each order has at most one accepted tracking write in the sandbox's log (nothing shipped twice)
      and no quarantined order has one;
    - each order's state, updated_at, tracking number and milestones in the warehouse equal the
      sandbox's; the outbox's confirmed tracking number is the one Wish holds;
    - no duplicate rows (orders, shipments per order, cursor rows).
    """
    wish = sandbox_orders(running)
    writes = sandbox_writes(running)
    report = InvariantReport(orders=len(wish))
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:
        rows = {r.order_id: r for r in conn.execute(sa.text("SELECT * FROM orders WHERE store = :s"), {"s": STORE})}
        rejected = {
            r.record_key: r.reason
            for r in conn.execute(
                sa.text("SELECT record_key, reason FROM rejected_records WHERE store = :s"), {"s": STORE}
            )
        }
        quarantined = {
            r[0]
            for r in conn.execute(
                sa.text("SELECT order_id FROM order_validations WHERE store = :s AND status <> 'valid'"), {"s": STORE}
            )
        }
        confirmed = Counter(
            r[0]
            for r in conn.execute(
                sa.text("SELECT order_id FROM shipments WHERE store = :s AND state = 'confirmed'"), {"s": STORE}
            )
        )
        shipment_numbers = {
            r[0]: r[1]
            for r in conn.execute(
                sa.text("SELECT order_id, tracking_number FROM shipments WHERE store = :s AND state = 'confirmed'"),
                {"s": STORE},
            )
        }
        report.duplicate_rows = sum(n - 1 for n in confirmed.values() if n > 1)
        report.duplicate_rows += int(
            conn.execute(
                sa.text("SELECT count(*) - count(DISTINCT stream) FROM sync_state WHERE store = :s"), {"s": STORE}
            ).scalar_one()
        )
    engine.dispose()
    report.in_warehouse = len(set(wish) & set(rows))
    report.quarantined = len(set(wish) & quarantined)
    report.rejected = len((set(wish) - set(rows)) & set(rejected))
    for oid, order in wish.items():
        tracking_writes = [w for w in writes.get(oid, []) if w.get("endpoint") == "tracking"]
        accepted = [w for w in tracking_writes if w.get("outcome") == "accepted"]
        report.accepted_writes += len(accepted)
        report.response_lost_writes += sum(1 for w in tracking_writes if w.get("response_lost"))
        if len(accepted) > 1:
            report.double_shipped.append(oid)
        if accepted and oid in quarantined:
            report.shipped_while_quarantined.append(oid)
        row = rows.get(oid)
        if row is None:
            if not rejected.get(oid):
                report.lost.append(oid)
            continue
        stored = row.raw if isinstance(row.raw, dict) else orjson.loads(row.raw)
        problems = []
        if row.state != order.get("state"):
            problems.append(f"state {row.state} != {order.get('state')}")
        if stored.get("updated_at") != order.get("updated_at"):
            problems.append(f"updated_at {stored.get('updated_at')} != {order.get('updated_at')}")
        if (row.tracking_number or None) != _tracking_number(order):
            problems.append(f"tracking {row.tracking_number} != {_tracking_number(order)}")
        if _milestones(stored) != _milestones(order):
            problems.append("milestones differ")
        if oid in shipment_numbers and shipment_numbers[oid] != _tracking_number(order):
            problems.append(f"outbox tracking {shipment_numbers[oid]} != Wish's {_tracking_number(order)}")
        if problems:
            report.mismatches.append(f"{oid}: {'; '.join(problems)}")
    return report


# -- normalised warehouse contents (fault storm vs clean run) --------------------------------------

#: Columns that legitimately differ between two runs of the same data: run ids, wall-clock times,
#: random ids of rows the runs create, attempts and retry details.
VOLATILE = {
    "run_id",
    "first_seen_run_id",
    "last_run_id",
    "_loaded_at",
    "event_id",
    "shipment_id",
    "batch_id",
    "parcel_id",
    "change_id",
    "attempts",
    "claimed_by",
    "claimed_at",
    "sent_at",
    "last_error",
    "planned_at",
    "submitted_at",
    "finished_at",
    "validated_at",
    "queued_at",
    "first_seen_at",
    "last_seen_at",
    "quarantined_since",
    "released_from_quarantine_at",
    "last_polled_at",
    "poll_count",
    "escalated_at",
    "at",
    "seconds",
    "gx_result",
}
#: Tables about runs rather than data.
RUN_TABLES = {"pipeline_runs", "validation_runs", "shipment_events", "shipment_batches"}
#: Per-table extra volatile columns (wall-clock stamps written by the runs themselves).
TABLE_VOLATILE = {
    "shipments": {"updated_at"},
    "address_changes": {"updated_at"},
    "sync_state": {"updated_at", "cursor_value"},
    "follow_ups": {"due_at", "opened_at"},
    "tracking_exceptions": {"opened_at"},
    # each warehouse draws its own salt, so its customer keys differ from another warehouse's
    "pseudonym_salts": {"salt", "created_at"},
    "customer_keys": {"customer_key", "computed_at"},
}


#: The field the sandbox's schema-drift fault adds to every object. The warehouse keeps payloads
#: verbatim (unknown fields included, by design), so a drifted read leaves it in ``raw``.
DRIFT_FIELD = "x_sandbox_added"


def _undrift(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _undrift(v) for k, v in value.items() if k != DRIFT_FIELD}
    if isinstance(value, list):
        return [_undrift(v) for v in value]
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, (dict, list)):
        return orjson.dumps(_undrift(value), option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return orjson.dumps(_undrift(orjson.loads(value)), option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONDecodeError:
            return value
    return value


def normalised_tables(warehouse_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows (store's), volatile columns dropped, sorted: comparable across runs."""
    from wishflow.warehouse.schema import metadata

    engine = sa.create_engine(warehouse_url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in RUN_TABLES:
                continue
            drop = VOLATILE | TABLE_VOLATILE.get(table.name, set())
            columns = [c for c in table.columns if c.name not in drop]
            rows = conn.execute(sa.select(*columns)).all()
            out[table.name] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
            out[table.name + ".columns"] = [tuple(c.name for c in columns)]
    engine.dispose()
    return out


def diff_tables(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Human-readable differences (empty when equal)."""
    problems = []
    for name in sorted(set(a) | set(b)):
        ra, rb = a.get(name, []), b.get(name, [])
        if ra != rb:
            only_a = [r for r in ra if r not in rb][:3]
            only_b = [r for r in rb if r not in ra][:3]
            problems.append(f"{name}: {len(ra)} vs {len(rb)} rows; only left {only_a}; only right {only_b}")
    return problems


# -- a whole crash scenario ----------------------------------------------------------------------


@dataclass
class CrashOutcome:
    seed: int
    kills: list[RunRecord]
    settle_runs: list[RunRecord]
    invariants: InvariantReport
    seconds: float


def crash_scenario(
    seed: int,
    *,
    orders: int,
    kills: int,
    prefect_api_url: str | None,
    warehouse_url: str,
    response_lost: float = 0.1,
    log: Callable[[str], None] = lambda _: None,
    write_profile: str = "default",
) -> CrashOutcome:
    """Kill the cycle ``kills`` times at random triggers (seeded), rerun until it completes, pull
    once more without faults and check every invariant.
    """
    started = time.monotonic()
    rng = random.Random(seed)
    running = start_sandbox(seed, orders)
    try:
        if write_profile != "default":  # how Wish answers and shows tracking writes (sandbox STATUS.md)
            import httpx

            httpx.put(
                f"{running.base_url}/sandbox/write_profile", json={"name": write_profile}, timeout=30
            ).raise_for_status()
        env = cycle_env(running, warehouse_url, prefect_api_url=prefect_api_url)
        if response_lost:
            set_faults(running, response_lost=response_lost, paths="/tracking$")
        records: list[RunRecord] = []
        for number in range(kills):
            trigger = random_trigger(rng, orders, number)
            record = run_cycle(env, running=running, trigger=trigger)
            log(
                f"seed {seed}: {trigger.describe()} -> killed={record.killed} rc={record.returncode} "
                f"writes {record.writes_before}->{record.writes_at_kill} ({record.seconds}s)"
            )
            records.append(record)
        settled = settle(env, running)
        final_pull(env, running)
        report = check_invariants(running, warehouse_url)
        log(f"seed {seed}: {report.summary()}")
        outcome = CrashOutcome(seed, records, settled, report, round(time.monotonic() - started, 1))
        record_figure(
            "crash",
            seed=seed,
            write_profile=write_profile,
            orders=orders,
            triggers=[r.trigger for r in records],
            killed=sum(1 for r in records if r.killed),
            kills_between_write_and_record=sum(
                1 for r in records if r.killed and r.trigger and r.trigger.startswith("after_writes")
            ),
            settle_runs=len(settled),
            lost=len(report.lost),
            double_shipped=len(report.double_shipped),
            mismatches=len(report.mismatches),
            duplicate_rows=report.duplicate_rows,
            shipped=report.accepted_writes,
            response_lost=report.response_lost_writes,
            quarantined=report.quarantined,
            rejected=report.rejected,
            seconds=outcome.seconds,
        )
        return outcome
    finally:
        running.stop()
