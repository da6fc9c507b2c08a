"""Read the orders awaiting validation and record verdicts, in bulk.

An order awaits validation when its current ``updated_at`` has not been judged. Batches are read by
keyset on ``order_id`` (never offsets), and one batch's verdicts are written in one transaction:
the current verdict per order, merged findings (new ones added, fixed ones resolved, never deleted),
and a ``validation_runs`` row. Rewriting the same verdict changes only timestamps of the last sighting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, Integer, Numeric, Select, and_, case, delete, exists, literal, null, select, true, update

from wishflow.validation.outcome import ValidationOutcome
from wishflow.validation.validate import SKU_COLUMNS, VALIDATED_COLUMNS
from wishflow.warehouse.bulk import copy_out_frame, dialect_insert, fill_stage, stage_table
from wishflow.warehouse.schema import orders
from wishflow.warehouse.shipping_schema import shipping_skus
from wishflow.warehouse.types import UTCDateTime
from wishflow.warehouse.validation_schema import (
    order_validation_failures,
    order_validation_queue,
    order_validations,
    validation_runs,
)

#: Orders read, validated and recorded per batch. The validation process's peak memory follows it:
#: over a 1M-order backfill 271 MB at 30,000, 283 MB at 40,000, 291 MB at 45,000 and 298 MB at
#: 50,000 (197 MB of it imports); each batch also pays GX's fixed cost (0.33 s then, 0.27 s since
#: ``metric_ids``), so smaller batches take longer (63, 54, 51 and 51 s). 40,000 keeps issue 20's
#: 300 MB goal with room (bench/PROFILE.md).
DEFAULT_BATCH_SIZE = 40_000
_READ_COLUMNS = [c for c in VALIDATED_COLUMNS if c in orders.c]
_READ_TIME_COLUMNS = [c for c in _READ_COLUMNS if isinstance(orders.c[c].type, UTCDateTime)]
#: Read as floats (the validation compares them as floats): the numbers of the order and of its SKU.
_READ_FLOAT_COLUMNS = [c for c in _READ_COLUMNS if isinstance(orders.c[c].type, Integer | Numeric)] + [
    c for c in SKU_COLUMNS if isinstance(shipping_skus.c[c.removeprefix("sku_")].type, Integer | Numeric)
]
#: Text with few distinct values in any store (a handful of states and currencies, the countries
#: and cities it ships to, its catalogue's SKUs), read as categoricals: their strings are then held
#: once per value, not once per order (bench/PROFILE.md). Names, addresses and phone numbers are
#: mostly distinct and stay plain text.
_READ_CATEGORY_COLUMNS = ["state", "currency_code", "country_code", "province", "city", "sku"]

#: What a batch stages per order and per finding; the run's constants (run id, clock) are added by
#: the merges' ``SELECT``, so COPY encodes half the values it would for whole rows.
_VERDICT_COLUMNS = ("store", "order_id", "validated_updated_at", "status", "blocking_failures", "warning_failures")
_FINDING_COLUMNS = ("store", "order_id", "expectation", "column_name", "severity", "observed_value")


def pending_batch_statement(
    store: str, *, after_order_id: str | None = None, limit: int = DEFAULT_BATCH_SIZE
) -> Select[Any]:
    """The query of :func:`read_pending_batch`: the next ``limit`` queued orders after ``after_order_id``.

    The batch's keys are picked from the queue first (its primary key, read from the keyset on), then
    each is joined to its order by the order's primary key. Joined the other way round, with the
    keyset and the limit on the whole join, PostgreSQL's plan depended on where the batch lay: a
    merge join walking every order of the store before the keyset (0.5 s for the batch after
    300,000 of a 1M-order queue, each batch dearer than the last) or, given the keyset on both
    sides, a hash join over all orders for some batches. Picked first, a batch's keys are a known
    ``limit`` rows, so every batch costs the same wherever it lies (0.2 s for 50,000 at 1M). Every
    queued key has its order (the loader queues versions of the orders it writes, and orders are
    never deleted); one that had not would be skipped, as the join always did.
    """
    # The loader queues every new or newer version, so finding pending orders costs what is
    # pending, not the size of the history.
    q = order_validation_queue
    k = shipping_skus
    keys = select(q.c.store, q.c.order_id).where(q.c.store == store)
    if after_order_id is not None:
        keys = keys.where(q.c.order_id > after_order_id)
    batch = keys.order_by(q.c.order_id).limit(limit).subquery("batch")
    sku_columns = [k.c[c.removeprefix("sku_")].label(c) for c in SKU_COLUMNS]
    return (
        select(*[orders.c[c] for c in _READ_COLUMNS], *sku_columns)
        .select_from(
            batch.join(orders, and_(orders.c.store == batch.c.store, orders.c.order_id == batch.c.order_id)).outerjoin(
                k, and_(k.c.store == orders.c.store, k.c.sku == orders.c.sku)
            )
        )
        .order_by(batch.c.order_id)
    )


def read_pending_batch(
    engine: Engine, store: str, *, after_order_id: str | None = None, limit: int = DEFAULT_BATCH_SIZE
) -> pd.DataFrame:
    """Up to ``limit`` orders of ``store`` whose current version is unjudged.

    By order id after ``after_order_id``, as a DataFrame of the validated columns.
    """
    stmt = pending_batch_statement(store, after_order_id=after_order_id, limit=limit)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return copy_out_frame(
                conn,
                stmt,
                datetime_columns=_READ_TIME_COLUMNS,
                float_columns=_READ_FLOAT_COLUMNS,
                category_columns=_READ_CATEGORY_COLUMNS,
            )
        # plain tuples: pandas probes each SQLAlchemy Row for attributes it lacks (~8 µs a row)
        rows = [tuple(row) for row in conn.execute(stmt).all()]
    return pd.DataFrame.from_records(rows, columns=[*_READ_COLUMNS, *SKU_COLUMNS])


def iter_pending_batches(engine: Engine, store: str, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[pd.DataFrame]:
    """Every pending order of ``store`` in batches of at most ``batch_size`` (for scripts and benches)."""
    after: str | None = None
    while True:
        frame = read_pending_batch(engine, store, after_order_id=after, limit=batch_size)
        if frame.empty:
            return
        yield frame
        after = str(frame["order_id"].iloc[-1])


def count_pending(engine: Engine, store: str) -> int:
    """How many orders of ``store`` await validation."""
    from sqlalchemy import func

    q = order_validation_queue
    stmt = select(func.count()).select_from(q).where(q.c.store == store)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def record_outcome(
    engine: Engine,
    store: str,
    run_id: str,
    outcome: ValidationOutcome,
    *,
    batch_number: int = 1,
    now: datetime | None = None,
) -> dict[str, int]:
    """Record one batch's verdicts in one transaction; returns the batch's counts.

    Orders whose ``updated_at`` is unknown in the outcome are skipped (they cannot be tied to a
    version); failures on rows without an order id are counted in the run row only.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    blocking: dict[str, int] = {}
    warnings: dict[str, int] = {}
    failure_rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    for f in outcome.failures:
        if f.order_id is None:
            continue
        key = (f.order_id, f.expectation)
        if key in failure_rows:
            continue
        counter = blocking if f.severity == "blocking" else warnings
        counter[f.order_id] = counter.get(f.order_id, 0) + 1
        failure_rows[key] = (store, f.order_id[:64], f.expectation[:100], f.column[:64], f.severity, f.observed_value)
    # The verdict rows are made while COPY reads them (a chunk at a time): this runs beside the
    # next batch's read and validation, and a dict of 50,000 rows held ~9 MB through both (the 1M
    # validation's peak, bench/PROFILE.md).
    judged: set[str] = set()
    tally = {"valid": 0, "invalid": 0}

    def verdict_rows() -> Iterator[tuple[Any, ...]]:
        for order_id, updated_at in outcome.validated:
            if updated_at is None or order_id in judged:
                continue
            judged.add(order_id)
            status = "invalid" if order_id in outcome.invalid_order_ids else "valid"
            tally[status] += 1
            yield (store, order_id[:64], updated_at, status, blocking.get(order_id, 0), warnings.get(order_id, 0))

    stage_v = stage_table(order_validations)
    stage_f = stage_table(order_validation_failures)
    with engine.begin() as conn:
        fill_stage(conn, stage_v, _VERDICT_COLUMNS, verdict_rows())
        _merge_verdicts(conn, stage_v, run_id, now)
        q = order_validation_queue
        conn.execute(
            delete(q).where(
                q.c.store == store,
                exists().where(
                    stage_v.c.store == q.c.store,
                    stage_v.c.order_id == q.c.order_id,
                    stage_v.c.validated_updated_at >= q.c.updated_at,
                ),
            )
        )
        fill_stage(conn, stage_f, _FINDING_COLUMNS, [r for (oid, _), r in failure_rows.items() if oid in judged])
        fails = order_validation_failures
        # Driven by the batch (UPDATE ... FROM the stage): resolving costs the batch's findings, not
        # a pass over every open finding of the store (which grows with the history).
        conn.execute(
            update(fails)
            .where(
                fails.c.store == store,
                stage_v.c.store == fails.c.store,
                stage_v.c.order_id == fails.c.order_id,
                fails.c.resolved_at.is_(None),
                ~exists().where(
                    stage_f.c.store == fails.c.store,
                    stage_f.c.order_id == fails.c.order_id,
                    stage_f.c.expectation == fails.c.expectation,
                ),
            )
            .values(resolved_at=now, _loaded_at=now)
        )
        _merge_failures(conn, stage_f, run_id, now)
        counts = outcome.counts_by_expectation()
        conn.execute(
            dialect_insert(conn, validation_runs)
            .values(
                run_id=run_id,
                batch_number=batch_number,
                store=store,
                validated_at=now,
                orders_validated=len(judged),
                orders_valid=tally["valid"],
                orders_invalid=tally["invalid"],
                failures_by_expectation=counts,
                gx_result=outcome.gx_result,
                seconds=round(outcome.seconds),
                _loaded_at=now,
            )
            .on_conflict_do_nothing(index_elements=["run_id", "batch_number"])
        )
    return {
        "validated": len(judged),
        "valid": tally["valid"],
        "invalid": tally["invalid"],
        "unattributed_failures": len(outcome.unattributed),
    }


def _merge_verdicts(conn: Any, stage: Any, run_id: str, now: datetime) -> None:
    """Upsert verdicts; keep the quarantine start across invalid versions and stamp a release.

    ``quarantined_since`` is the ``updated_at`` (Wish's clock) of the first version that failed, so
    the hours an order has been held do not depend on when validation happened to run.
    """
    t = order_validations
    source = select(
        *[stage.c[c] for c in _VERDICT_COLUMNS],
        _constant(t, "run_id", run_id),
        _constant(t, "validated_at", now),
        # on Wish's clock: the order version that first failed, not when this process judged it
        case((stage.c.status == "invalid", stage.c.validated_updated_at), else_=null()),
        _constant(t, "_loaded_at", now),
    ).where(true())
    columns = [*_VERDICT_COLUMNS, "run_id", "validated_at", "quarantined_since", "_loaded_at"]
    stmt = dialect_insert(conn, t).from_select(columns, source)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["store", "order_id"],
        set_={
            "validated_updated_at": ex.validated_updated_at,
            "status": ex.status,
            "blocking_failures": ex.blocking_failures,
            "warning_failures": ex.warning_failures,
            "run_id": ex.run_id,
            "validated_at": ex.validated_at,
            "quarantined_since": case(
                (ex.status == "valid", None),
                (t.c.status == "invalid", t.c.quarantined_since),
                else_=ex.quarantined_since,
            ),
            "released_from_quarantine_at": case(
                (and_(ex.status == "valid", t.c.status == "invalid"), ex.validated_at),
                else_=t.c.released_from_quarantine_at,
            ),
            "_loaded_at": ex._loaded_at,
        },
        where=t.c.validated_updated_at <= ex.validated_updated_at,
    )
    conn.execute(stmt)


def _merge_failures(conn: Any, stage: Any, run_id: str, now: datetime) -> None:
    """Upsert findings: a recurring finding is reopened, keeping when it was first seen."""
    t = order_validation_failures
    source = select(
        *[stage.c[c] for c in _FINDING_COLUMNS],
        _constant(t, "run_id", run_id),
        _constant(t, "first_seen_at", now),
        _constant(t, "last_seen_at", now),
        _constant(t, "_loaded_at", now),
    ).where(true())
    columns = [*_FINDING_COLUMNS, "run_id", "first_seen_at", "last_seen_at", "_loaded_at"]
    conn.execute(reopen_findings(dialect_insert(conn, t).from_select(columns, source)))


def reopen_findings(stmt: Any) -> Any:
    """``stmt`` (an insert into ``order_validation_failures``) as an upsert that reopens a recurring finding.

    The finding's rule, column, severity, observed value and last sighting are refreshed and it is
    open again; when it was first seen is kept (how long the order has had it).
    """
    ex = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["store", "order_id", "expectation"],
        set_={
            "column_name": ex.column_name,
            "severity": ex.severity,
            "observed_value": ex.observed_value,
            "run_id": ex.run_id,
            "last_seen_at": ex.last_seen_at,
            "resolved_at": None,
            "_loaded_at": ex._loaded_at,
        },
    )


def _constant(table: Any, column: str, value: Any) -> Any:
    """The batch's value of ``column``, bound once in the merge (typed as the column)."""
    return literal(value, type_=table.c[column].type)
