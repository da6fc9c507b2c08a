"""Findings made after validation, by the stage that found the order unusable.

Held once, never skipped silently on every run.

Validation bounds a parcel by the largest package's weight, longest side and volume; planning can
still find that no package holds an order (the second side does not fit, a rule names a package too
small, the SKU table or the presets changed since the order was judged). Such an order is quarantined
here like any blocking finding: a row in ``order_validation_failures`` with the rule and the observed
weight and dimensions, its verdict turned ``invalid`` (``quarantined_since`` on Wish's clock, the
version's ``updated_at``), so it leaves the shipping queue and shows in ``v_quarantined_orders``,
``v_quarantine_reasons`` and the action list. A newer version from Wish is validated again and, if
it passes, planned again (and held again if it still fits no package).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, case, func, select, update

from wishflow.validation.store import reopen_findings
from wishflow.validation.suites import register_rule
from wishflow.warehouse.bulk import dialect_insert
from wishflow.warehouse.schema import orders
from wishflow.warehouse.validation_schema import order_validation_failures, order_validations

#: The planning rule: no package preset holds the order's items (the observed value says what they need).
PARCEL_RULE = register_rule(
    "parcel_fits_package",
    "quantity",
    "blocking",
    "A package preset holds the order's items (every side, the filled volume and the weight limit); found "
    "by shipping planning, after the parcel_fits_largest_package bounds passed.",
)

#: Observed values are cut to this many characters (as the suites' are).
MAX_OBSERVED = 500


def hold_orders(
    engine: Engine,
    store: str,
    findings: Mapping[str, str],
    *,
    rule: str = PARCEL_RULE,
    run_id: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Quarantine each order of ``findings`` for the blocking ``rule``, in one transaction.

    ``findings`` maps order id to observed value. Only an order whose current version was judged valid
    is held (an order still awaiting validation is judged first; an invalid one is held already, and
    keeps its verdict but gains the finding). Returns the orders newly quarantined.
    """
    if not findings:
        return []
    now = (now or datetime.now(UTC)).astimezone(UTC)
    from wishflow.validation.suites import RULES

    info = RULES[rule]
    v, f, o = order_validations, order_validation_failures, orders
    ids = list(findings)
    held: list[str] = []
    with engine.begin() as conn:
        current = conn.execute(
            select(v.c.order_id, v.c.status)
            .join(o, and_(o.c.store == v.c.store, o.c.order_id == v.c.order_id))
            .where(v.c.store == store, v.c.order_id.in_(ids), v.c.validated_updated_at == o.c.updated_at)
        ).all()
        judged = {row.order_id: row.status for row in current}
        already_open = set(
            conn.execute(
                select(f.c.order_id).where(
                    f.c.store == store, f.c.order_id.in_(ids), f.c.expectation == rule, f.c.resolved_at.is_(None)
                )
            ).scalars()
        )
        rows = [
            {
                "store": store,
                "order_id": order_id,
                "expectation": rule,
                "column_name": info.column,
                "severity": info.severity,
                "observed_value": findings[order_id][:MAX_OBSERVED],
                "run_id": run_id,
                "first_seen_at": now,
                "last_seen_at": now,
                "resolved_at": None,
                "_loaded_at": now,
            }
            for order_id in ids
            if order_id in judged
        ]
        if rows:
            conn.execute(reopen_findings(dialect_insert(conn, f)), rows)
        newly = [order_id for order_id in ids if order_id in judged and order_id not in already_open]
        if newly:
            conn.execute(
                update(v)
                .where(v.c.store == store, v.c.order_id.in_(newly))
                .values(
                    status="invalid",
                    blocking_failures=v.c.blocking_failures + 1,
                    quarantined_since=func.coalesce(
                        case((v.c.status == "invalid", v.c.quarantined_since), else_=None), v.c.validated_updated_at
                    ),
                    run_id=run_id,
                    _loaded_at=now,
                )
            )
            held = [order_id for order_id in newly if judged[order_id] == "valid"]
    return held
