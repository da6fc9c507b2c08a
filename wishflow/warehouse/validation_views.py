"""SQL of the validation and order-deadline views, for PostgreSQL and SQLite.

The views are created by migration ``0002`` (Alembic is the only schema writer); the SQL lives here
so the library and the migration agree on one definition. ``hours_left`` is computed when the view
is queried (``julianday`` on SQLite, ``EXTRACT(EPOCH ...)`` on PostgreSQL), so it is always current.

An order is *open* when it is APPROVED and not shipped: no tracking number, or its tracking write
failed, or its tracking was cancelled after it was marked shipped; and no tracking write is in
flight. An order's *validation status* is ``quarantined`` once its latest verdict is invalid (until a
later version passes), ``pending`` when its current version has not been judged, else ``valid``.
"""

from __future__ import annotations

import re

#: The default horizon of ``v_orders_at_risk``; library functions take the hours as a parameter.
AT_RISK_HOURS_DEFAULT = 24

VIEW_NAMES = ("v_quarantined_orders", "v_orders_at_risk", "v_unprocessed_orders", "v_open_orders")


_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def constant_sql(template: str, **fragments: str | int) -> str:
    """SQL text assembled from module constants.

    Each ``{name}`` slot of ``template`` is filled with the fragment of that name.

    Fragments are our own view and column names, SQL expressions built by the dialect helpers of
    this module (:func:`hours_left_sql`, :func:`hours_since_sql`) and integers: never a value from
    outside, which is a bound parameter instead. The SQL check of ``tests/reliability/test_secrets.py``
    reads every call statically: the template must be a literal and each fragment built from
    constants. A slot without a fragment, or a fragment without a slot, is an error.
    """
    unused = set(fragments)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            raise KeyError(f"constant_sql: no fragment for {{{name}}}")
        value = fragments[name]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"constant_sql: fragment {name} must be SQL text or an integer, not {type(value).__name__}")
        unused.discard(name)
        return str(value)

    sql = _SLOT.sub(fill, template)
    if unused:
        raise KeyError(f"constant_sql: fragments without a slot: {', '.join(sorted(unused))}")
    return sql


def hours_left_sql(dialect: str, column: str = "o.expected_ship_time") -> str:
    """Hours from now until ``column`` (negative when past), evaluated at query time."""
    if dialect == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({column} - CURRENT_TIMESTAMP)) / 3600.0)"
    return f"((julianday({column}) - julianday('now')) * 24.0)"


def _agg(dialect: str, expr: str) -> str:
    if dialect == "postgresql":
        return f"string_agg({expr}, ', ' ORDER BY {expr})"
    return f"group_concat({expr}, ', ')"


OPEN_ORDER_PREDICATE = """
    o.state = 'APPROVED'
    AND COALESCE(o.processing_status, '') <> 'IN_PROGRESS'
    AND (
        o.tracking_number IS NULL
        OR o.processing_status = 'FAILED'
        OR (o.tracking_cancelled_at IS NOT NULL AND (o.shipped_at IS NULL OR o.tracking_cancelled_at >= o.shipped_at))
    )
"""


def view_statements(dialect: str) -> list[str]:
    """``CREATE VIEW`` statements in dependency order."""
    hours = hours_left_sql(dialect)
    return [
        f"""
CREATE VIEW v_open_orders AS
SELECT
    o.store,
    o.order_id,
    o.released_at,
    o.expected_ship_time,
    {hours} AS hours_left,
    o.is_wish_express,
    o.is_confirmed_delivery,
    o.country_code,
    o.province,
    o.city,
    o.sku,
    o.quantity,
    o.updated_at,
    CASE
        WHEN v.status = 'invalid' THEN 'quarantined'
        WHEN v.order_id IS NULL OR v.validated_updated_at < o.updated_at THEN 'pending'
        ELSE 'valid'
    END AS validation_status
FROM orders o
LEFT JOIN order_validations v ON v.store = o.store AND v.order_id = o.order_id
WHERE {OPEN_ORDER_PREDICATE}
""",
        """
CREATE VIEW v_unprocessed_orders AS
SELECT
    store, order_id, released_at, expected_ship_time, hours_left, is_wish_express, is_confirmed_delivery,
    country_code, province, city, sku, quantity
FROM v_open_orders
WHERE validation_status = 'valid'
ORDER BY expected_ship_time
""",
        f"""
CREATE VIEW v_orders_at_risk AS
SELECT
    store, order_id, released_at, expected_ship_time, hours_left, is_wish_express, is_confirmed_delivery,
    country_code, province, city, sku, quantity, validation_status
FROM v_open_orders
WHERE expected_ship_time IS NOT NULL AND hours_left < {AT_RISK_HOURS_DEFAULT}
ORDER BY expected_ship_time
""",
        f"""
CREATE VIEW v_quarantined_orders AS
SELECT
    o.store,
    o.order_id,
    o.state,
    o.updated_at,
    o.expected_ship_time,
    {hours} AS hours_left,
    o.country_code,
    v.quarantined_since,
    v.validated_updated_at,
    v.blocking_failures,
    (
        SELECT {_agg(dialect, "f.expectation")}
        FROM order_validation_failures f
        WHERE f.store = v.store AND f.order_id = v.order_id
          AND f.severity = 'blocking' AND f.resolved_at IS NULL
    ) AS reasons
FROM order_validations v
JOIN orders o ON o.store = v.store AND o.order_id = v.order_id
WHERE v.status = 'invalid'
ORDER BY o.expected_ship_time
""",
    ]


def drop_statements() -> list[str]:
    """``DROP VIEW`` statements, dependants first."""
    return [f"DROP VIEW IF EXISTS {name}" for name in VIEW_NAMES]


# -- Revision 0006: one meaning per queue --------------------------------------------------------
#
# ``view_statements`` above is what migration 0002 created and stays as it was (a migration must
# replay the same way forever). Revision 0006 replaces the quarantine view with the definitions
# below: the quarantine list holds *open* orders only (a shipped, refunded or declined order needs no
# fixing), and how long an order has been held counts from its first failing verdict on Wish's clock.
# "Waiting to ship" is ``v_unprocessed_orders`` everywhere (open, current version valid).

VIEW_NAMES_0006 = ("v_quarantine_reasons", "v_quarantined_orders")


def hours_since_sql(dialect: str, column: str) -> str:
    """Hours from ``column`` until now, evaluated at query time."""
    if dialect == "postgresql":
        return f"(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - {column})) / 3600.0)"
    return f"((julianday('now') - julianday({column})) * 24.0)"


def view_statements_0006(dialect: str) -> list[str]:
    """``CREATE VIEW`` statements of revision 0006 (after dropping :data:`VIEW_NAMES_0006`)."""
    return [
        constant_sql(
            """
CREATE VIEW v_quarantined_orders AS
SELECT
    o.store,
    o.order_id,
    o.state,
    o.updated_at,
    o.expected_ship_time,
    {hours} AS hours_left,
    o.country_code,
    v.quarantined_since,
    {hours_held} AS hours_held,
    v.validated_updated_at,
    v.blocking_failures,
    (
        SELECT {reasons}
        FROM order_validation_failures f
        WHERE f.store = v.store AND f.order_id = v.order_id
          AND f.severity = 'blocking' AND f.resolved_at IS NULL
    ) AS reasons
FROM order_validations v
JOIN orders o ON o.store = v.store AND o.order_id = v.order_id
WHERE v.status = 'invalid' AND {open_order}
ORDER BY o.expected_ship_time
""",
            hours=hours_left_sql(dialect),
            hours_held=hours_since_sql(dialect, "v.quarantined_since"),
            reasons=_agg(dialect, "f.expectation"),
            open_order=OPEN_ORDER_PREDICATE,
        ),
        """
CREATE VIEW v_quarantine_reasons AS
SELECT
    q.store,
    q.order_id,
    f.expectation AS rule,
    f.column_name,
    f.observed_value,
    f.first_seen_at,
    q.expected_ship_time,
    q.hours_left
FROM v_quarantined_orders q
JOIN order_validation_failures f ON f.store = q.store AND f.order_id = q.order_id
WHERE f.severity = 'blocking' AND f.resolved_at IS NULL
""",
    ]


def view_statements_0005(dialect: str) -> list[str]:
    """The quarantine view as revisions 0002-0005 left it (what 0006's downgrade restores)."""
    return [s for s in view_statements(dialect) if "CREATE VIEW v_quarantined_orders" in s]


# -- Revision 0008: Fulfilled-by-Wish orders are not the merchant's to ship -----------------------
#
# An order in Wish's FBW program (``order_types`` holds FULFILLED_BY_WISH, the spec's
# ``fulfillment_order_types``) is shipped by Wish from its own warehouse: it is never open for the
# merchant, so it is not waiting to ship, never at risk and never an action item. The view keeps its
# columns (PostgreSQL replaces it in place under the views that read it; SQLite re-creates it, its
# views resolve names when queried).

#: SQL: the order (alias ``o``) is not Fulfilled by Wish.
NOT_FULFILLED_BY_WISH = "(',' || COALESCE(o.order_types, '') || ',') NOT LIKE '%,FULFILLED_BY_WISH,%'"


def _replace_open_orders(dialect: str, create_view: str) -> list[str]:
    if dialect == "postgresql":
        return [create_view.replace("CREATE VIEW v_open_orders", "CREATE OR REPLACE VIEW v_open_orders", 1)]
    return ["DROP VIEW IF EXISTS v_open_orders", create_view]


def open_orders_statements_0008(dialect: str) -> list[str]:
    """``v_open_orders`` without Fulfilled-by-Wish orders (its 0002 definition plus one condition)."""
    base = view_statements(dialect)[0].rstrip()
    return _replace_open_orders(dialect, base + "\n    AND " + NOT_FULFILLED_BY_WISH + "\n")


def open_orders_statements_0007(dialect: str) -> list[str]:
    """``v_open_orders`` as revision 0002 created it (the downgrade of 0008)."""
    return _replace_open_orders(dialect, view_statements(dialect)[0])


# -- Revision 0011: at risk means not quarantined ---------------------------------------------------
#
# One meaning of "at risk" everywhere (issue 18): an open order, valid or not yet validated (never
# quarantined), whose ship-by deadline is less than 24 hours away or past. A quarantined order near
# its deadline is counted once, in the quarantine queue (``v_quarantined_orders``; the action list's
# ``quarantined_order`` rows carry its ``at_risk`` or ``missed`` severity), never twice. This is the
# condition ``v_action_items`` uses for its ``order_at_risk`` rows.

#: SQL over ``v_open_orders``: the order is at risk within ``{hours}`` hours (the one definition).
AT_RISK_CONDITION = "validation_status <> 'quarantined' AND expected_ship_time IS NOT NULL AND hours_left < {hours}"
#: SQL over ``v_open_orders``: due within ``{hours}`` hours whatever the verdict (the deadline warning's list).
DUE_WITHIN_CONDITION = "expected_ship_time IS NOT NULL AND hours_left < {hours}"


_AT_RISK_VIEW = """
CREATE VIEW v_orders_at_risk AS
SELECT
    store, order_id, released_at, expected_ship_time, hours_left, is_wish_express, is_confirmed_delivery,
    country_code, province, city, sku, quantity, validation_status
FROM v_open_orders
WHERE {condition}
ORDER BY expected_ship_time
"""


def _at_risk_view(condition: str) -> str:
    """The view over one of this module's own conditions (constants, no outside value)."""
    return _AT_RISK_VIEW.format(condition=condition)


def _replace_at_risk(dialect: str, create_view: str) -> list[str]:
    if dialect == "postgresql":
        return [create_view.replace("CREATE VIEW v_orders_at_risk", "CREATE OR REPLACE VIEW v_orders_at_risk", 1)]
    return ["DROP VIEW IF EXISTS v_orders_at_risk", create_view]


def at_risk_statements_0011(dialect: str) -> list[str]:
    """``v_orders_at_risk`` without quarantined orders (same columns: dependants keep working)."""
    return _replace_at_risk(dialect, _at_risk_view(AT_RISK_CONDITION.format(hours=AT_RISK_HOURS_DEFAULT)))


def at_risk_statements_0010(dialect: str) -> list[str]:
    """``v_orders_at_risk`` as revision 0002 created it, quarantined orders included (0011's downgrade)."""
    return _replace_at_risk(
        dialect, _at_risk_view(f"expected_ship_time IS NOT NULL AND hours_left < {AT_RISK_HOURS_DEFAULT}")
    )


# -- Revision 0012: the views leave their order to whoever reads them -------------------------------
#
# ``v_unprocessed_orders``, ``v_orders_at_risk`` and ``v_quarantined_orders`` ended with ``ORDER BY
# expected_ship_time`` so that an analyst's ``SELECT *`` came sorted. PostgreSQL cannot merge a view
# with its own ``ORDER BY`` into the query that reads it: it computes every column of every row of the
# view and sorts them all before the reader's ``WHERE``, ``LIMIT`` or ``count(*)`` apply (the
# quarantine view's ``reasons`` subquery once per quarantined order; ``v_action_items`` and
# ``v_quarantine_reasons`` read that view too). The cost grew with the history, not with what was
# shown. Every reader orders what it shows (``ORDER BY expected_ship_time, order_id``, the deadline
# index's order), and the analysts' examples show it (issue 20).
#
# ``v_unprocessed_orders`` also tests its verdict directly (:data:`CURRENT_VERSION_VALID`) instead of
# filtering ``v_open_orders``' computed ``validation_status``: the planner cannot estimate how many
# rows a ``CASE`` keeps (it guessed 295 of 156,000 at a 200k-order history), so it sorted every open
# order to find the first 500 (0.5 s) instead of walking the deadline index (3 ms). Same rows: an
# order is ``valid`` in ``v_open_orders`` exactly when it has a verdict, that verdict is not
# ``invalid`` and it judged the current version (both columns are NOT NULL). The views keep their
# columns, so PostgreSQL replaces them in place under their dependants.

#: The views revision 0012 replaces (same columns, same rows, no ``ORDER BY``).
VIEW_NAMES_0012 = ("v_unprocessed_orders", "v_orders_at_risk", "v_quarantined_orders")

#: SQL: the verdict ``v`` (``order_validations``, inner-joined) passed the order ``o``'s current version.
CURRENT_VERSION_VALID = "v.status <> 'invalid' AND v.validated_updated_at >= o.updated_at"

_TRAILING_ORDER_BY = re.compile(r"\nORDER BY [^\n]*\n\s*$")


def _without_order_by(create_view: str) -> str:
    """``create_view`` without its final ``ORDER BY`` line (an error if it has none)."""
    out, n = _TRAILING_ORDER_BY.subn("\n", create_view)
    if n != 1:
        raise ValueError("no final ORDER BY line in the view's definition")
    return out


def _replace(dialect: str, create_view: str) -> list[str]:
    """Statements replacing the view ``create_view`` creates (its columns unchanged)."""
    name = create_view.split("CREATE VIEW ", 1)[1].split()[0]
    if dialect == "postgresql":
        return [create_view.replace(f"CREATE VIEW {name}", f"CREATE OR REPLACE VIEW {name}", 1)]
    return [f"DROP VIEW IF EXISTS {name}", create_view]


def _views_0011(dialect: str) -> list[str]:
    """The three views as revision 0011 left them (each ending with ``ORDER BY expected_ship_time``)."""
    unprocessed = next(s for s in view_statements(dialect) if "CREATE VIEW v_unprocessed_orders" in s)
    at_risk = _at_risk_view(AT_RISK_CONDITION.format(hours=AT_RISK_HOURS_DEFAULT))
    quarantined = next(s for s in view_statements_0006(dialect) if "CREATE VIEW v_quarantined_orders" in s)
    return [unprocessed, at_risk, quarantined]


def unordered_view_statements_0012(dialect: str) -> list[str]:
    """Revision 0012: :data:`VIEW_NAMES_0012` without their ``ORDER BY`` (see above)."""
    unprocessed = constant_sql(
        """
CREATE VIEW v_unprocessed_orders AS
SELECT
    o.store, o.order_id, o.released_at, o.expected_ship_time, {hours} AS hours_left, o.is_wish_express,
    o.is_confirmed_delivery, o.country_code, o.province, o.city, o.sku, o.quantity
FROM orders o
JOIN order_validations v ON v.store = o.store AND v.order_id = o.order_id
WHERE {open_order}
    AND {not_fbw}
    AND {valid}
""",
        hours=hours_left_sql(dialect),
        open_order=OPEN_ORDER_PREDICATE,
        not_fbw=NOT_FULFILLED_BY_WISH,
        valid=CURRENT_VERSION_VALID,
    )
    _, at_risk, quarantined = _views_0011(dialect)
    views = [unprocessed, _without_order_by(at_risk), _without_order_by(quarantined)]
    return [s for view in views for s in _replace(dialect, view)]


def ordered_view_statements_0011(dialect: str) -> list[str]:
    """The same views as revision 0011 left them, sorted (0012's downgrade)."""
    return [s for view in _views_0011(dialect) for s in _replace(dialect, view)]
