"""The ``analytics`` views: the report's figures without customers' personal data.

They hold every figure of the data dictionary and the report. Migration ``0007_analytics`` creates them;
the SQL lives here so the migration, the grant command and the tests agree on one definition.

PostgreSQL: the views live in the schema ``analytics`` (``analytics.orders``, ...); an analyst role
granted by ``wishflow db grant-analyst ROLE`` may read that schema and nothing else. A view runs with
its owner's rights, so reading ``analytics.orders`` needs no right on ``orders`` itself.
SQLite: a file has no roles; the same views exist as ``analytics_orders``, ... beside the tables, and
whoever can read the file can read everything in it.

Personal fields are left out or reduced: no name, street, city, full postcode or phone number, no
raw payloads, no free text a customer wrote, no outbox (shipments, address changes), tokens or sync
state. Orders keep the country and the region (``province``), gain ``postcode_prefix`` (the first 3
characters) and ``customer_key``, a salted md5 of the normalised name and address
(:mod:`wishflow.warehouse.pseudonyms`) for repeat-customer questions.

The column lists are frozen here (a view is created by a migration at one point of the schema's
history); a later migration that changes them adds its own definitions: ``0008_money`` adds each money
column's exact integer twin (``*_e4``) and the ``postage`` view (the label cost per shipment, without
tracking numbers, notes or errors), see :data:`ADDED`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, MetaData, String, Table

SCHEMA = "analytics"
SQLITE_PREFIX = "analytics_"

#: source table -> the columns its analytics view shows (same names)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_events": (
        "event_id",
        "store",
        "order_id",
        "event_type",
        "event_time",
        "from_state",
        "to_state",
        "_loaded_at",
    ),
    "order_completions": (
        "store",
        "order_id",
        "completed_at",
        "delivered_at",
        "rule",
        "revoked_at",
        "revoked_reason",
        "_loaded_at",
    ),
    "refunds": (
        "store",
        "order_id",
        "refund_index",
        "refunded_at",
        "refund_reason",
        "refund_source",
        "refund_amount",
        "merchant_responsible_amount",
        "currency_code",
        "after_delivery",
        "order_updated_at",
        "_loaded_at",
    ),
    "tickets": (
        "store",
        "ticket_id",
        "state",
        "ticket_type",
        "sub_label",
        "refund_reason",
        "order_id",
        "order_ids",
        "buyer_locale",
        "opened_at",
        "updated_at",
        "closed_at",
        "closed_by",
        "awaiting_merchant_since",
        "reply_count",
        "last_reply_at",
        "last_reply_sender",
        "_loaded_at",
    ),
    "ticket_replies": (
        "store",
        "ticket_id",
        "reply_index",
        "sender",
        "replied_at",
        "supporting_file_count",
        "sent_by_wishflow",
        "_loaded_at",
    ),
    "penalties": (
        "store",
        "penalty_id",
        "penalty_reason",
        "related_entity_type",
        "related_entity_id",
        "order_id",
        "penalty_amount",
        "currency_code",
        "created_at",
        "reversed",
        "reversed_at",
        "_loaded_at",
    ),
    "follow_ups": (
        "store",
        "kind",
        "entity_id",
        "opened_at",
        "order_id",
        "due_at",
        "resolved_at",
        "resolution",
        "_loaded_at",
    ),
    "tracking_events": (
        "event_id",
        "store",
        "order_id",
        "tracking_number",
        "shipping_provider",
        "event_type",
        "event_time",
        "status",
        "source_updated_at",
        "_loaded_at",
    ),
    "shipment_tracking": (
        "store",
        "order_id",
        "tracking_number",
        "shipping_provider",
        "status",
        "status_reason",
        "is_current",
        "order_state",
        "is_wish_express",
        "is_confirmed_delivery",
        "released_at",
        "shipped_at",
        "first_scan_at",
        "delivered_at",
        "cancelled_at",
        "voided_at",
        "last_event_at",
        "first_scan_due_at",
        "delivery_due_at",
        "order_updated_at",
        "last_polled_at",
        "poll_count",
        "origin_country",
        "_loaded_at",
    ),
    "tracking_exceptions": (
        "store",
        "order_id",
        "tracking_number",
        "exception_type",
        "opened_at",
        "severity",
        "deadline_at",
        "details",
        "escalated_at",
        "resolved_at",
        "resolution",
        "_loaded_at",
    ),
    "order_validations": (
        "store",
        "order_id",
        "validated_updated_at",
        "status",
        "blocking_failures",
        "warning_failures",
        "run_id",
        "validated_at",
        "quarantined_since",
        "released_from_quarantine_at",
        "_loaded_at",
    ),
    "order_validation_failures": (
        "store",
        "order_id",
        "expectation",
        "column_name",
        "severity",
        "run_id",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "_loaded_at",
    ),
    "validation_runs": (
        "run_id",
        "batch_number",
        "store",
        "validated_at",
        "orders_validated",
        "orders_valid",
        "orders_invalid",
        "failures_by_expectation",
        "seconds",
        "_loaded_at",
    ),
    "pipeline_runs": (
        "run_id",
        "store",
        "stage",
        "started_at",
        "finished_at",
        "outcome",
        "records_fetched",
        "records_new",
        "records_changed",
        "records_unchanged",
        "records_quarantined",
        "_loaded_at",
    ),
    "rejected_records": (
        "store",
        "source",
        "record_key",
        "order_id",
        "first_seen_at",
        "last_seen_at",
        "run_id",
        "resolved_at",
        "_loaded_at",
    ),
    "shipping_skus": ("store", "sku", "weight_grams", "length_mm", "width_mm", "height_mm", "tags", "_loaded_at"),
}

ORDER_COLUMNS: tuple[str, ...] = (
    "store",
    "order_id",
    "transaction_id",
    "state",
    "released_at",
    "updated_at",
    "expected_ship_time",
    "expected_delivery_time",
    "product_id",
    "product_name",
    "variation_id",
    "sku",
    "color",
    "size",
    "quantity",
    "product_price",
    "shipping_price",
    "payment_total",
    "currency_code",
    "province",
    "country_code",
    "phone_country_code",
    "order_types",
    "is_wish_express",
    "is_confirmed_delivery",
    "warehouse_id",
    "tracking_number",
    "shipping_provider",
    "origin_country",
    "processing_source",
    "processing_status",
    "shipped_at",
    "first_scan_at",
    "delivered_at",
    "tracking_cancelled_at",
    "refunded_at",
    "first_seen_run_id",
    "last_run_id",
    "_loaded_at",
)
#: columns the orders view adds, computed from personal fields
ORDER_DERIVED = ("postcode_prefix", "customer_key")
POSTCODE_PREFIX_LENGTH = 3

_DEADLINE_COLUMNS = (
    "store",
    "order_id",
    "released_at",
    "expected_ship_time",
    "hours_left",
    "is_wish_express",
    "is_confirmed_delivery",
    "country_code",
    "province",
    "sku",
    "quantity",
)
#: analytics view -> (the documented view it reads, its columns): the deadline views without ``city``
FIGURE_VIEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "open_orders": ("v_open_orders", (*_DEADLINE_COLUMNS, "updated_at", "validation_status")),
    "unprocessed_orders": ("v_unprocessed_orders", _DEADLINE_COLUMNS),
    "orders_at_risk": ("v_orders_at_risk", (*_DEADLINE_COLUMNS, "validation_status")),
    "quarantined_orders": (
        "v_quarantined_orders",
        (
            "store",
            "order_id",
            "state",
            "updated_at",
            "expected_ship_time",
            "hours_left",
            "country_code",
            "quarantined_since",
            "validated_updated_at",
            "blocking_failures",
            "reasons",
        ),
    ),
    # the report's quarantine by rule, without the observed (possibly personal) value
    "quarantine_reasons": (
        "v_quarantine_reasons",
        ("store", "order_id", "rule", "column_name", "first_seen_at", "expected_ship_time", "hours_left"),
    ),
    # the action list, with a ticket's subject (the customer's words) left out of ``what_to_do``
    "action_items": (
        "v_action_items",
        (
            "store",
            "kind",
            "order_id",
            "entity_id",
            "severity",
            "severity_rank",
            "due_at",
            "hours_left",
            "opened_at",
            "what_to_do",
        ),
    ),
}

#: ``what_to_do`` of a ticket in ``analytics.action_items`` and the report: the follow-up's text quotes
#: the ticket's subject, which the customer wrote; this says the same without it.
TICKET_WHAT_TO_DO = "Answer the customer's ticket on Wish before its deadline (see wishflow todo)."
TICKET_KIND = "ticket_awaiting_merchant"

#: the action list's what_to_do, with a ticket's text (which quotes the customer) replaced by a fixed sentence
ACTION_WHAT_TO_DO_SQL = (
    f"CASE WHEN kind = '{TICKET_KIND}' THEN '{TICKET_WHAT_TO_DO.replace(chr(39), chr(39) * 2)}' "
    "ELSE what_to_do END AS what_to_do"
)


def safe_what_to_do(kind: str, what_to_do: str | None) -> str | None:
    """An action's ``what_to_do`` as the analytics views show it (no customer's words)."""
    return TICKET_WHAT_TO_DO if kind == TICKET_KIND else what_to_do


def queue_views(dialect: str) -> dict[str, str]:
    """The documented views the queue counts, the action list and the report read, mapped to analytics.

    For :func:`wishflow.actions.queue_counts` and ``action_items``' ``views=``.
    """
    return {source: qualified_name(dialect, name) for name, (source, _) in FIGURE_VIEWS.items()}


#: The revisions that define the views: each later one adds columns and views to the one before.
REVISIONS = ("0007", "0008")
LATEST = REVISIONS[-1]

#: 0008_money: view -> columns added (the money columns' exact twins, see wishflow.warehouse.types)
ADDED: dict[str, dict[str, tuple[str, ...]]] = {
    "0008": {
        "orders": ("product_price_e4", "shipping_price_e4", "payment_total_e4"),
        "refunds": ("refund_amount_e4", "merchant_responsible_amount_e4"),
        "penalties": ("penalty_amount_e4",),
    }
}
#: 0008_money: views added (name -> source table, columns). ``postage``: what each shipment's label cost,
#: by carrier, service and package (the outbox without tracking numbers, notes, workers or errors).
ADDED_VIEWS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "0008": {
        "postage": (
            "shipments",
            (
                "store",
                "shipment_id",
                "order_id",
                "parcel_id",
                "kind",
                "batch_id",
                "carrier",
                "service",
                "package",
                "weight_grams",
                "origin_country",
                "state",
                "label_cost",
                "label_cost_e4",
                "label_cost_currency",
                "planned_at",
                "submitted_at",
                "finished_at",
            ),
        )
    }
}


@dataclass(frozen=True)
class AnalyticsView:
    """One analytics view: its name, the table or view it reads, and the columns it exposes."""

    name: str
    source: str
    columns: tuple[str, ...]


def views(revision: str = LATEST) -> list[AnalyticsView]:
    """Every analytics view as of ``revision``, in creation order.

    ``revision`` is a migration's number; each view comes with its source table or view and its columns.
    """
    if revision not in REVISIONS:
        raise ValueError(f"unknown analytics revision {revision!r} (known: {REVISIONS})")
    applied = REVISIONS[1 : REVISIONS.index(revision) + 1]

    def columns(name: str, base: tuple[str, ...]) -> tuple[str, ...]:
        return base + tuple(c for r in applied for c in ADDED.get(r, {}).get(name, ()))

    out = [AnalyticsView("orders", "orders", columns("orders", ORDER_COLUMNS) + ORDER_DERIVED)]
    out += [AnalyticsView(table, table, columns(table, cols)) for table, cols in TABLE_COLUMNS.items()]
    out += [AnalyticsView(name, source, cols) for r in applied for name, (source, cols) in ADDED_VIEWS[r].items()]
    out += [AnalyticsView(name, source, cols) for name, (source, cols) in FIGURE_VIEWS.items()]
    return out


def qualified_name(dialect: str, view: str) -> str:
    """``analytics.<view>`` on PostgreSQL, ``analytics_<view>`` on SQLite."""
    return f"{SCHEMA}.{view}" if dialect == "postgresql" else SQLITE_PREFIX + view


def _select(view: AnalyticsView) -> str:
    if view.name == "orders":
        frozen_columns = ", ".join(f"o.{c}" for c in view.columns if c not in ORDER_DERIVED)
        return (
            f"SELECT {frozen_columns}, substr(o.zipcode, 1, {int(POSTCODE_PREFIX_LENGTH)}) AS postcode_prefix, "
            "k.customer_key FROM orders o "
            "LEFT JOIN customer_keys k ON k.store = o.store AND k.order_id = o.order_id"
        )
    if view.name == "action_items":
        columns = [c for c in view.columns if c != "what_to_do"]
        return f"SELECT {', '.join(columns)}, {ACTION_WHAT_TO_DO_SQL} FROM {view.source}"
    frozen_columns = ", ".join(view.columns)
    return f"SELECT {frozen_columns} FROM {view.source}"


def create_statements(dialect: str, revision: str = LATEST) -> list[str]:
    """The statements creating the schema (PostgreSQL) and every view as of ``revision``."""
    out = [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"] if dialect == "postgresql" else []
    for view in views(revision):
        view_name = qualified_name(dialect, view.name)
        out.append(f"CREATE VIEW {view_name} AS {_select(view)}")
    return out


def drop_statements(dialect: str, revision: str = LATEST, *, schema: bool = True) -> list[str]:
    """The statements dropping every view of ``revision``, dependants first.

    And the schema on PostgreSQL unless ``schema`` is False (a migration that redefines the views keeps
    the schema, and with it the analyst role's default privileges).
    """
    out = [f"DROP VIEW IF EXISTS {qualified_name(dialect, v.name)}" for v in reversed(views(revision))]
    if dialect == "postgresql" and schema:
        out.append(f"DROP SCHEMA IF EXISTS {SCHEMA}")
    return out


def view_table(dialect: str, name: str) -> Table:
    """A SQLAlchemy table for querying the analytics view ``name``, with the source columns' types.

    ``name`` is a table-backed view; with the source types, timestamps come back as aware UTC datetimes
    and money as decimals.
    """
    from wishflow.warehouse.schema import metadata

    view = next(v for v in views() if v.name == name)
    source = metadata.tables[view.source]
    columns = [Column(c, source.c[c].type if c in source.c else String()) for c in view.columns]
    if dialect == "postgresql":
        return Table(name, MetaData(), *columns, schema=SCHEMA)
    return Table(SQLITE_PREFIX + name, MetaData(), *columns)
