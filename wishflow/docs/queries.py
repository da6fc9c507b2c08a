"""The analysts' views described, and example queries that run on both PostgreSQL and SQLite.

The dictionary (``docs/warehouse.md``) is generated from these and from the metadata's comments;
the tests run every example query on both databases, so the documentation cannot drift from the
schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from wishflow.warehouse.validation_views import constant_sql


@dataclass(frozen=True)
class ViewDoc:
    """One analyst view as the data dictionary describes it: what it answers and its columns."""

    name: str
    description: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExampleQuery:
    """A worked question for analysts with its SQL, per dialect where they differ."""

    key: str
    title: str
    question: str
    #: dialect ("sqlite", "postgresql") -> SQL; "any" when one text works on both
    sql: dict[str, str]

    def for_dialect(self, dialect: str) -> str:
        """The query text for ``dialect`` ("sqlite", "postgresql"), else the one that works on both."""
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
        "Every order still to ship (APPROVED, no accepted tracking, no write in flight, not Fulfilled by Wish), "
        "with its validation status and the hours left before its ship-by deadline.",
        (
            *_OPEN_COLUMNS,
            ("updated_at", "Wish's last update of the order."),
            ("validation_status", "valid, pending (not yet judged in this version) or quarantined."),
        ),
    ),
    ViewDoc(
        "v_unprocessed_orders",
        "Open orders that passed validation: the shipping queue. Most urgent deadline first is "
        "`ORDER BY expected_ship_time, order_id` (the deadline views have no order of their own: a query "
        "says its order, and the database reads only the rows it shows).",
        _OPEN_COLUMNS,
    ),
    ViewDoc(
        "v_orders_at_risk",
        "Open orders, valid or not yet validated, whose ship-by deadline is less than 24 hours away (or "
        "already past). Quarantined orders are not listed here: they are in v_quarantined_orders with their "
        "hours left (one order, one queue).",
        (*_OPEN_COLUMNS, ("validation_status", "valid or pending (not yet judged in this version).")),
    ),
    ViewDoc(
        "v_quarantined_orders",
        "Open orders (still to ship) whose latest validation failed a blocking rule, with the reasons and "
        "how long they have been held; they are not shipped until a corrected version from Wish passes. "
        "Shipped, refunded and declined orders are never listed (their verdicts stay in order_validations).",
        (
            ("store", "The merchant store."),
            ("order_id", "Wish's order id."),
            ("state", "The order's Wish state (APPROVED: only open orders are listed)."),
            ("updated_at", "Wish's last update of the order."),
            ("expected_ship_time", "Ship-by deadline."),
            ("hours_left", "Hours until the deadline when queried (negative: past)."),
            ("country_code", "Destination country (ISO-2)."),
            ("quarantined_since", "Wish's updated_at of the first version that failed (Wish's clock)."),
            ("hours_held", "Hours since quarantined_since when queried."),
            ("validated_updated_at", "The order version (updated_at) the verdict is about."),
            ("blocking_failures", "Number of blocking rules that failed."),
            ("reasons", "The failed rules, comma-separated."),
        ),
    ),
    ViewDoc(
        "v_quarantine_reasons",
        "One row per open quarantined order and blocking rule it fails, with the value observed: why "
        "orders are held right now (warnings and closed orders are not counted).",
        (
            ("store", "The merchant store."),
            ("order_id", "Wish's order id."),
            ("rule", "The blocking rule (see wishflow/validation/suites.py RULES)."),
            ("column_name", "The column the rule checks."),
            ("observed_value", "What was seen (truncated to 500 characters)."),
            ("first_seen_at", "When the finding was first recorded."),
            ("expected_ship_time", "Ship-by deadline."),
            ("hours_left", "Hours until the deadline when queried (negative: past)."),
        ),
    ),
    ViewDoc(
        "v_action_items",
        "The merchant's action list: one row per thing to do. Kinds: quarantined_order (an open order held "
        "by validation), order_at_risk (an open order not quarantined with under 24 h left or overdue), "
        "shipment_pending_at_wish (a tracking write Wish has not confirmed for 12 h), tracking_exception, "
        "ticket_awaiting_merchant, penalty_to_review (the open follow-ups, with the tracking exception's "
        "current severity). `wishflow todo`, the daily summary and the report print these rows.",
        (
            ("store", "The merchant store."),
            ("kind", "What sort of thing to do (see above)."),
            ("order_id", "The order concerned, if any."),
            ("entity_id", "What it is about: the order, shipment, ticket, penalty or order:tracking number."),
            ("severity", "missed (a deadline has passed), at_risk (a deadline is near) or action."),
            ("severity_rank", "0 missed, 1 at_risk, 2 action: sort by it, then due_at."),
            ("due_at", "Act before this, if there is a deadline."),
            ("hours_left", "Hours until due_at when queried (negative: past)."),
            ("opened_at", "Since when it needs doing."),
            ("what_to_do", "What to do, in words."),
        ),
    ),
)

#: The ISO 8601 week ("YYYY-Www", weeks from Monday, week 1 holds the year's first Thursday) of a
#: timestamp column, in SQLite (which lacks %G/%V before 3.46): the week's Thursday gives the year.
_SQLITE_ISO_WEEK = (
    "strftime('%Y', date({c}, '-3 days', 'weekday 4')) || '-W' || "
    "printf('%02d', (CAST(strftime('%j', date({c}, '-3 days', 'weekday 4')) AS INTEGER) - 1) / 7 + 1)"
)
_POSTGRES_ISO_WEEK = "to_char({c} AT TIME ZONE 'UTC', 'IYYY-\"W\"IW')"


def iso_week_sql(dialect: str, column: str) -> str:
    """SQL of the ISO week label of ``column`` (UTC), the same on both databases and in the report."""
    return (_POSTGRES_ISO_WEEK if dialect == "postgresql" else _SQLITE_ISO_WEEK).format(c=column)


EXAMPLES: tuple[ExampleQuery, ...] = (
    ExampleQuery(
        "orders_waiting_by_deadline",
        "Orders waiting to ship, by deadline",
        "Which valid orders must ship first, and how many hours are left?",
        {
            "any": """SELECT store, order_id, country_code, expected_ship_time, ROUND(hours_left, 1) AS hours_left
FROM v_unprocessed_orders
ORDER BY expected_ship_time, order_id
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
            "sqlite": constant_sql(
                """SELECT {week} AS week,
       COUNT(*) AS shipped,
       ROUND(AVG(CASE WHEN shipped_at <= expected_ship_time THEN 1.0 ELSE 0.0 END) * 100, 1) AS on_time_pct
FROM orders
WHERE shipped_at IS NOT NULL
GROUP BY week
ORDER BY week;""",
                week=iso_week_sql("sqlite", "shipped_at"),
            ),
            "postgresql": constant_sql(
                """SELECT {week} AS week,
       COUNT(*) AS shipped,
       ROUND(AVG(CASE WHEN shipped_at <= expected_ship_time THEN 1.0 ELSE 0.0 END) * 100, 1) AS on_time_pct
FROM orders
WHERE shipped_at IS NOT NULL
GROUP BY week
ORDER BY week;""",
                week=iso_week_sql("postgresql", "shipped_at"),
            ),
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
        "How many refunds, and how much money, per refund reason (and how much the merchant bears)? Money "
        "is summed exactly through the integer twins (`*_e4`), per currency.",
        {
            "any": """SELECT refund_reason, COUNT(*) AS refunds,
       SUM(refund_amount_e4) / 10000.0 AS refunded, SUM(merchant_responsible_amount_e4) / 10000.0 AS merchant_pays,
       currency_code
FROM refunds
GROUP BY refund_reason, currency_code
ORDER BY refunds DESC, refund_reason, currency_code;""",
        },
    ),
    ExampleQuery(
        "payments_by_week",
        "What Wish pays, by week",
        "Per ISO week of release and currency: orders and what Wish pays the merchant for them.",
        {
            "sqlite": constant_sql(
                """SELECT {week} AS week, currency_code,
       COUNT(*) AS orders, SUM(payment_total_e4) / 10000.0 AS payment_total
FROM orders
WHERE released_at IS NOT NULL AND payment_total IS NOT NULL
GROUP BY week, currency_code
ORDER BY week, currency_code;""",
                week=iso_week_sql("sqlite", "released_at"),
            ),
            "postgresql": constant_sql(
                """SELECT {week} AS week, currency_code,
       COUNT(*) AS orders, SUM(payment_total_e4) / 10000.0 AS payment_total
FROM orders
WHERE released_at IS NOT NULL AND payment_total IS NOT NULL
GROUP BY week, currency_code
ORDER BY week, currency_code;""",
                week=iso_week_sql("postgresql", "released_at"),
            ),
        },
    ),
    ExampleQuery(
        "postage_by_carrier",
        "Postage by carrier",
        "What labels cost, per carrier and currency (the cost a label source reported, once per parcel; "
        "analysts without access to `shipments` read the `postage` analytics view).",
        {
            "any": """SELECT carrier, label_cost_currency AS currency, COUNT(DISTINCT parcel_id) AS parcels,
       SUM(label_cost_e4) / 10000.0 AS postage
FROM shipments
WHERE label_cost IS NOT NULL
GROUP BY carrier, label_cost_currency
ORDER BY carrier, currency;""",
        },
    ),
    ExampleQuery(
        "quarantine_reasons",
        "Why orders are quarantined",
        "Which blocking rules hold open orders right now (warnings and closed orders not counted)?",
        {
            "any": """SELECT rule, COUNT(DISTINCT order_id) AS orders
FROM v_quarantine_reasons
GROUP BY rule
ORDER BY orders DESC, rule;""",
        },
    ),
    ExampleQuery(
        "todo_today",
        "What to do today",
        "The action list, missed deadlines first, then at risk, then the rest, each by due time.",
        {
            "any": """SELECT store, severity, kind, order_id, due_at, what_to_do
FROM v_action_items
ORDER BY severity_rank, CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, kind, entity_id
LIMIT 50;""",
        },
    ),
    ExampleQuery(
        "todo_counts",
        "How much there is to do, by kind",
        "Counts per kind and severity (what `wishflow todo` prints in its heading).",
        {
            "any": """SELECT kind, severity, COUNT(*) AS items
FROM v_action_items
GROUP BY kind, severity
ORDER BY kind, severity;""",
        },
    ),
)
