"""Tables behind the analysts' pseudonymous customer key (migration ``0007_analytics``).

``pseudonym_salts`` holds the warehouse's secret salt and ``customer_keys`` each order's key, so the
key stays the same after retention blanks the name and address it was computed from. Neither is
readable by the analyst role; the ``analytics`` views expose only the key.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from wishflow.warehouse.metadata import metadata
from wishflow.warehouse.types import UTCDateTime

pseudonym_salts = Table(
    "pseudonym_salts",
    metadata,
    Column("salt_id", Integer, primary_key=True, autoincrement=False, comment="Always 1: one salt per warehouse."),
    Column("salt", String(64), nullable=False, comment="Random salt of the customer keys (never shown to analysts)."),
    Column("created_at", UTCDateTime(), nullable=False, comment="When the salt was drawn."),
    comment="The warehouse's secret salt for pseudonymous customer keys; analysts cannot read it.",
)

customer_keys = Table(
    "customer_keys",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store."),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column(
        "customer_key",
        String(32),
        nullable=False,
        comment="md5 of the salt and the normalised recipient name and address: the same customer, the same key.",
    ),
    Column("computed_at", UTCDateTime(), nullable=False, comment="When the key was computed."),
    comment="Each order's pseudonymous customer key, kept when retention blanks the name and address.",
)
