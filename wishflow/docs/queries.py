"""The analysts' views described, and example queries that run on both PostgreSQL and SQLite.

The dictionary (``docs/warehouse.md``) is generated from these and from the metadata's comments;
the tests run every example query on both databases, so the documentation cannot drift from the
schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViewDoc:
    name: str
    description: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExampleQuery:
    key: str
    title: str
    question: str
    #: dialect ("sqlite", "postgresql") -> SQL; "any" when one text works on both
    sql: dict[str, str]

    def for_dialect(self, dialect: str) -> str:
        return self.sql.get(dialect) or self.sql["any"]


_OPEN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("store", "The merchant store."),
    ("order_id", "Wish's order id."),
    ("released_at", "When Wish released the order (deadlines start here)."),
    ("expected_ship_time", "Ship-by deadline: mark shipped before this."),
    ("hours_left", "Hours until the deadline when queried (negative: past)."),
    ("is_wish_express", "Wish Express order (5 business days to deliver)."),
    ("is_confirmed_delivery", "Confirmed Delivery Policy order."),
    ("country_code", "Destination country (ISO-2)."),
    ("province", "Destination state or province."),
    ("city", "Destination city."),
    ("sku", "The merchant's SKU."),
    ("quantity", "Units ordered."),
)

VIEWS: tuple[ViewDoc, ...] = (
    ViewDoc(
        "v_open_orders",
        "Every order still to ship (APPROVED, no accepted tracking, no write in flight), with its "
        "validation status and the hours left before its ship-by deadline.",
        (
            *_OPEN_COLUMNS,
            ("updated_at", "Wish's last update of the order."),
            ("validation_status", "valid, pending (not yet judged in this version) or quarantined."),
        ),
    ),
    ViewDoc(
        "v_unprocessed_orders",
        "Open orders that passed validation: the shipping queue, most urgent deadline first.",
        _OPEN_COLUMNS,
    ),
    ViewDoc(
        "v_orders_at_risk",
        "Open orders whose ship-by deadline is less than 24 hours away (or already past), valid or not.",
        (*_OPEN_COLUMNS, ("validation_status", "valid, pending or quarantined.")),
    ),
    ViewDoc(
        "v_quarantined_orders",
        "Orders whose latest validation failed a blocking expectation, with the reasons; they are not "
        "shipped until a corrected version from Wish passes.",
        (
            ("store", "The merchant store."),
            ("order_id", "Wish's order id."),
            ("state", "The order's Wish state."),
            ("updated_at", "Wish's last update of the order."),
            ("expected_ship_time", "Ship-by deadline."),
            ("hours_left", "Hours until the deadline when queried (negative: past)."),
            ("country_code", "Destination country (ISO-2)."),
            ("quarantined_since", "When the order was first quarantined."),
            ("validated_updated_at", "The order version (updated_at) the verdict is about."),
            ("blocking_failures", "Number of blocking expectations that failed."),
            ("reasons", "The failed expectations, comma-separated."),
        ),
    ),
)

EXAMPLES: tuple[ExampleQuery, ...] = (
    ExampleQuery(
        "orders_waiting_by_deadline",
        "Orders waiting to ship, by deadline",
        "Which valid orders must ship first, and how many hours are left?",
        {
            "any": """SELECT store, order_id, country_code, expected_ship_time, ROUND(hours_left, 1) AS hours_left
FROM v_unprocessed_orders
ORDER BY expected_ship_time
LIMIT 20;""",
        },
    ),
    ExampleQuery(
        "orders_waiting_per_day",
        "Waiting orders per deadline day",
        "How much shipping work is due on each day?",
        {
            "sqlite": """SELECT date(expected_ship_time) AS due_day, COUNT(*) AS orders,
       SUM(CASE WHEN hours_left < 0 THEN 1 ELSE 0 END) AS overdue
FROM v_open_orders
GROUP BY due_day
ORDER BY due_day;""",
            "postgresql": """SELECT CAST(expected_ship_time AS date) AS due_day, COUNT(*) AS orders,
       SUM(CASE WHEN hours_left < 0 THEN 1 ELSE 0 END) AS overdue
FROM v_open_orders
GROUP BY due_day
ORDER BY due_day;""",
        },
    ),
    ExampleQuery(
        "on_time_ship_rate_by_week",
        "On-time ship rate by week",
        "Per week of marking shipped, the share of orders marked shipped before their deadline.",
        {
            "sqlite": """SELECT strftime('%Y-W%W', shipped_at) AS week,
       COUNT(*) AS shipped,
       ROUND(AVG(CASE WHEN shipped_at <= expected_ship_time THEN 1.0 ELSE 0.0 END) * 100, 1) AS on_time_pct
FROM orders
WHERE shipped_at IS NOT NULL
GROUP BY week
ORDER BY week;""",
            "postgresql": """SELECT to_char(date_trunc('week', shipped_at), 'IYYY-"W"IW') AS week,
       COUNT(*) AS shipped,
       ROUND(AVG(CASE WHEN shipped_at <= expected_ship_time THEN 1.0 ELSE 0.0 END) * 100, 1) AS on_time_pct
FROM orders
WHERE shipped_at IS NOT NULL
GROUP BY week
ORDER BY week;""",
        },
    ),
    ExampleQuery(
        "carrier_delivery_times",
        "Carrier delivery times",
        "Per carrier: parcels, average hours to the first scan and average days to confirmed delivery.",
        {
            "sqlite": """SELECT shipping_provider AS carrier,
       COUNT(*) AS parcels,
       ROUND(AVG((julianday(first_scan_at) - julianday(shipped_at)) * 24), 1) AS avg_hours_to_first_scan,
       ROUND(AVG(julianday(delivered_at) - julianday(shipped_at)), 1) AS avg_days_to_delivery,
       SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS delivered
FROM shipment_tracking
WHERE shipped_at IS NOT NULL
GROUP BY shipping_provider
ORDER BY parcels DESC;""",
            "postgresql": """SELECT shipping_provider AS carrier,
       COUNT(*) AS parcels,
       ROUND(AVG(EXTRACT(EPOCH FROM first_scan_at - shipped_at) / 3600)::numeric, 1) AS avg_hours_to_first_scan,
       ROUND(AVG(EXTRACT(EPOCH FROM delivered_at - shipped_at) / 86400)::numeric, 1) AS avg_days_to_delivery,
       SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS delivered
FROM shipment_tracking
WHERE shipped_at IS NOT NULL
GROUP BY shipping_provider
ORDER BY parcels DESC;""",
        },
    ),
    ExampleQuery(
        "refunds_by_reason",
        "Refunds by reason",
        "How many refunds, and how much money, per refund reason (and how much the merchant bears)?",
        {
            "any": """SELECT refund_reason, COUNT(*) AS refunds,
       SUM(refund_amount) AS refunded, SUM(merchant_responsible_amount) AS merchant_pays, currency_code
FROM refunds
GROUP BY refund_reason, currency_code
ORDER BY refunds DESC;""",
        },
    ),
    ExampleQuery(
        "quarantine_reasons",
        "Why orders are quarantined",
        "Which validation expectations block orders right now?",
        {
            "any": """SELECT expectation, COUNT(*) AS orders
FROM order_validation_failures
WHERE resolved_at IS NULL AND severity = 'blocking'
GROUP BY expectation
ORDER BY orders DESC;""",
        },
    ),
)
