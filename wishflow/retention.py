"""Retention: customers' personal data is kept only as long as the order needs it.

Once an order has been complete (``order_completions``, not revoked) or refunded for more than the
policy's ``personal_data_days``, its recipient name, street lines, city, postcode and phone number
are blanked, the personal fields are removed from its raw payload, and its address changes and the
values validation saw are cleared. Everything the figures need stays: states, times, carriers,
tracking numbers, money, country and region, the history tables, and the pseudonymous customer key
(computed before the fields go, so repeat-customer questions still work).

Each run is recorded in ``pipeline_runs`` (stage ``retention``) with its counts. A policy without
``personal_data_days`` keeps everything (the default; see docs/security.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from wishflow.warehouse.aftersales_schema import order_completions
from wishflow.warehouse.personal import ORDER_PERSONAL_COLUMNS, PERSONAL_PAYLOAD_KEYS
from wishflow.warehouse.pseudonyms import refresh_customer_keys
from wishflow.warehouse.runs import finish_run, start_run
from wishflow.warehouse.schema import orders
from wishflow.warehouse.shipping_schema import address_changes
from wishflow.warehouse.validation_schema import order_validation_failures

BATCH = 1_000


@dataclass(frozen=True)
class RetentionPolicy:
    """How long personal data of finished orders is kept (``None``: for ever)."""

    personal_data_days: int | None = None
    trim_payloads: bool = True

    def __post_init__(self) -> None:
        if self.personal_data_days is not None and self.personal_data_days < 1:
            raise ValueError(f"personal_data_days must be at least 1, not {self.personal_data_days}")


@dataclass
class RetentionResult:
    """What one retention pass did: whether a policy applied, its cutoff, and the rows it changed."""

    applied: bool
    cutoff: str | None = None
    orders_blanked: int = 0
    payloads_trimmed: int = 0
    address_changes_cleared: int = 0
    observed_values_cleared: int = 0
    customer_keys_computed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The result as a plain dict for the run record and the flow's return value."""
        return asdict(self)


def trim_payload(doc: Any) -> Any:
    """The payload without its personal fields (any depth)."""
    if isinstance(doc, dict):
        return {k: trim_payload(v) for k, v in doc.items() if k not in PERSONAL_PAYLOAD_KEYS}
    if isinstance(doc, list):
        return [trim_payload(v) for v in doc]
    return doc


def _finished_before(store: str, cutoff: datetime) -> sa.ColumnElement[bool]:
    """Orders of ``store`` complete (and not revoked) or refunded before ``cutoff``."""
    o, c = orders.c, order_completions.c
    completed = sa.exists().where(
        c.store == o.store, c.order_id == o.order_id, c.completed_at < cutoff, c.revoked_at.is_(None)
    )
    refunded = sa.and_(o.state == "REFUNDED", o.refunded_at < cutoff)
    still_personal = sa.or_(*(o[name].is_not(None) for name in ORDER_PERSONAL_COLUMNS))
    return sa.and_(o.store == store, sa.or_(completed, refunded), still_personal)


def apply_retention(engine: Engine, store: str, now: datetime, policy: RetentionPolicy, run_id: str) -> RetentionResult:
    """Blank the personal data of ``store``'s orders finished more than the policy's days before ``now``.

    The run is recorded; running it again changes nothing. Whatever the policy, the customer keys of
    orders that have none are computed first.
    """
    # the customer keys of new orders, whatever the policy (the analytics views show them)
    keys = refresh_customer_keys(engine, store)
    if policy.personal_data_days is None:
        return RetentionResult(applied=False, customer_keys_computed=keys)
    cutoff = now - timedelta(days=policy.personal_data_days)
    result = RetentionResult(applied=True, cutoff=cutoff.isoformat(), customer_keys_computed=keys)
    retention_run = f"{run_id}:retention"[:64]
    start_run(engine, retention_run, store, "retention", {"personal_data_days": policy.personal_data_days})
    try:
        o = orders.c
        while True:
            with engine.begin() as conn:
                rows = conn.execute(
                    sa.select(o.order_id, o.raw).where(_finished_before(store, cutoff)).limit(BATCH)
                ).all()
                if not rows:
                    break
                ids = [r.order_id for r in rows]
                blank = {name: None for name in ORDER_PERSONAL_COLUMNS}
                if policy.trim_payloads:
                    conn.execute(
                        orders.update()
                        .where(o.store == store, o.order_id == sa.bindparam("b_order_id"))
                        .values(**blank, raw=sa.bindparam("b_raw", type_=orders.c.raw.type)),
                        [{"b_order_id": r.order_id, "b_raw": trim_payload(r.raw)} for r in rows],
                    )
                    result.payloads_trimmed += len(rows)
                else:
                    conn.execute(orders.update().where(o.store == store, o.order_id.in_(ids)).values(**blank))
                a = address_changes.c
                result.address_changes_cleared += conn.execute(
                    address_changes.update()
                    .where(a.store == store, a.order_id.in_(ids), a.finished_at.is_not(None))
                    .values(address={}, previous_address=None)
                ).rowcount
                f = order_validation_failures.c
                result.observed_values_cleared += conn.execute(
                    order_validation_failures.update()
                    .where(f.store == store, f.order_id.in_(ids), f.observed_value.is_not(None))
                    .values(observed_value=None)
                ).rowcount
                result.orders_blanked += len(rows)
    except BaseException as exc:
        finish_run(engine, retention_run, outcome="failed", details=result.as_dict(), error=type(exc).__name__)
        raise
    finish_run(engine, retention_run, outcome="succeeded", details=result.as_dict())
    return result
