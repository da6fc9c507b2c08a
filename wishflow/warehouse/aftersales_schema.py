"""After-sales tables: refunds, tickets and their replies, penalties, follow-ups, order completion."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from wishflow.warehouse.metadata import metadata
from wishflow.warehouse.types import LongText, Money, RawJSON, UTCDateTime, exact_money


def _store() -> Column[str]:
    return Column("store", String(100), primary_key=True, comment="The merchant store the row belongs to.")


def _loaded_at() -> Column[object]:
    return Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC).")


refunds = Table(
    "refunds",
    metadata,
    _store(),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column(
        "refund_index",
        Integer,
        primary_key=True,
        comment="Position of the refund in the order's refunds list (Wish gives refunds no id).",
    ),
    Column("refunded_at", UTCDateTime(), comment="When the order was refunded (refund_time)."),
    Column("refund_reason", String(64), comment="Wish refund reason, e.g. SHIPPING_TAKING_TOO_LONG."),
    Column("refund_reason_note", Text, comment="Note to the customer explaining the refund."),
    Column("refund_source", String(32), comment="MERCHANT, CUSTOMER, WISH or PAYMENT_PROVIDER."),
    Column("refund_amount", Money, comment="Amount refunded to the customer (currency_code)."),
    exact_money("refund_amount"),
    Column("merchant_responsible_amount", Money, comment="Part of the refund the merchant pays (currency_code)."),
    exact_money("merchant_responsible_amount"),
    Column("currency_code", String(3), comment="ISO 4217 currency of the money columns."),
    Column("after_delivery", Boolean, nullable=False, comment="Refunded after the order was confirmed delivered."),
    Column("order_updated_at", UTCDateTime(), nullable=False, comment="The order's updated_at it was read from."),
    Column("raw", RawJSON, nullable=False, comment="The refund entry exactly as Wish returned it."),
    _loaded_at(),
    Index(None, "store", "refunded_at"),
    comment="Every refund of every order, from the order payloads' refunds list.",
)

tickets = Table(
    "tickets",
    metadata,
    _store(),
    Column("ticket_id", String(64), primary_key=True, comment="Wish's ticket id."),
    Column(
        "state",
        String(32),
        nullable=False,
        comment="AWAITING_WISH, AWAITING_USER, AWAITING_MERCHANT, CLOSED or PERMANENTLY_CLOSED.",
    ),
    Column("ticket_type", String(32), comment="ORDER, PRE_PURCHASE or POST_CUSTOMER_SUPPORT."),
    Column("subject", Text, comment="The ticket's subject."),
    Column("sub_label", Text, comment="Wish's sub-label for the ticket."),
    Column("refund_reason", String(64), comment="The refund reason the ticket's label maps to."),
    Column("order_id", String(64), comment="The first order the ticket concerns."),
    Column("order_ids", Text, comment="Comma-separated ids of every order the ticket concerns."),
    Column("buyer_locale", String(16), comment="The customer's locale."),
    Column("opened_at", UTCDateTime(), comment="When the customer opened the ticket."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="Wish's last update of the ticket (source)."),
    Column("closed_at", UTCDateTime(), comment="When the ticket was closed, if it is."),
    Column("closed_by", String(32), comment="Who closed it: USER, MERCHANT, WISH_SUPPORT, ..."),
    Column(
        "awaiting_merchant_since",
        UTCDateTime(),
        comment="For AWAITING_MERCHANT: time of the latest message the merchant has not answered.",
    ),
    Column("reply_count", Integer, nullable=False, comment="Number of replies, the customer's first message included."),
    Column("last_reply_at", UTCDateTime(), comment="Time of the latest reply."),
    Column("last_reply_sender", String(32), comment="Who sent the latest reply."),
    Column("raw", RawJSON, nullable=False, comment="The ticket exactly as Wish returned it (buyer name included)."),
    _loaded_at(),
    Index(None, "store", "state"),
    comment="Current state of every customer ticket, one row per store and ticket id.",
)

ticket_replies = Table(
    "ticket_replies",
    metadata,
    _store(),
    Column("ticket_id", String(64), primary_key=True, comment="Wish's ticket id."),
    Column("reply_index", Integer, primary_key=True, comment="Position of the reply in the ticket (0 = first)."),
    Column("sender", String(32), comment="USER, MERCHANT, WISH_SUPPORT, WISH_AUTOMATED_SUPPORT or LIVE_CHAT."),
    Column("replied_at", UTCDateTime(), comment="When the reply was sent."),
    Column("message", LongText, comment="The reply's text (markdown)."),
    Column("supporting_file_count", Integer, nullable=False, comment="Number of files attached."),
    Column("sent_by_wishflow", Boolean, nullable=False, comment="A templated reply Wishflow sent."),
    _loaded_at(),
    comment="Append-only conversation of every ticket.",
)

penalties = Table(
    "penalties",
    metadata,
    _store(),
    Column("penalty_id", String(64), primary_key=True, comment="Wish's penalty id."),
    Column("penalty_reason", Text, comment="Why Wish issued the penalty."),
    Column("related_entity_type", String(32), comment="TICKET, ORDER, PRODUCT, PRODUCT_VARIATION, STORE, ..."),
    Column("related_entity_id", String(64), comment="Id of the related entity."),
    Column("order_id", String(64), comment="The order, when the penalty is about one."),
    Column("penalty_amount", Money, comment="Amount of the penalty (currency_code)."),
    exact_money("penalty_amount"),
    Column("currency_code", String(3), comment="ISO 4217 currency of penalty_amount."),
    Column("created_at", UTCDateTime(), comment="When Wish issued the penalty."),
    Column("reversed", Boolean, nullable=False, comment="Wish reversed the penalty."),
    Column("reversed_at", UTCDateTime(), comment="When it was reversed."),
    Column("raw", RawJSON, nullable=False, comment="The penalty exactly as Wish returned it."),
    _loaded_at(),
    Index(None, "store", "created_at"),
    comment="Every penalty Wish issued to the store.",
)

follow_ups = Table(
    "follow_ups",
    metadata,
    _store(),
    Column(
        "kind",
        String(48),
        primary_key=True,
        comment="TICKET_AWAITING_MERCHANT, RESHIP (tracking cancelled), FIRST_SCAN_LATE, NO_MOVEMENT, "
        "CONFIRMED_DELIVERY_LATE, WISH_EXPRESS_LATE or PENALTY_REVIEW.",
    ),
    Column("entity_id", String(200), primary_key=True, comment="What it is about: ticket, order:tracking, penalty."),
    Column("opened_at", UTCDateTime(), primary_key=True, comment="When the need to act began."),
    Column("order_id", String(64), comment="The order concerned, if any."),
    Column("due_at", UTCDateTime(), comment="Act before this (a Wish deadline), if known."),
    Column("summary", Text, nullable=False, comment="What the merchant must do, in words."),
    Column("resolved_at", UTCDateTime(), comment="When it no longer needed action (null while open)."),
    Column("resolution", String(64), comment="How it was resolved."),
    _loaded_at(),
    Index(None, "store", "resolved_at"),
    comment="What the merchant must act on, opened and resolved by the follow-up flow.",
)

order_completions = Table(
    "order_completions",
    metadata,
    _store(),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column(
        "completed_at",
        UTCDateTime(),
        nullable=False,
        comment="When the order became complete: delivery + the quiet period, or the last ticket closed.",
    ),
    Column("delivered_at", UTCDateTime(), nullable=False, comment="CONFIRMED_DELIVERED time."),
    Column("rule", String(128), nullable=False, comment="The rule applied, e.g. 'delivered + 7 days'."),
    Column("revoked_at", UTCDateTime(), comment="When a later refund or ticket undid completion."),
    Column("revoked_reason", String(64), comment="refund or ticket."),
    _loaded_at(),
    Index(None, "store", "completed_at"),
    comment="Derived status: delivered orders with no open ticket or refund after the quiet period.",
)
