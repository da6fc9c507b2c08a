"""analytics views without personal data, and the pseudonymous customer key's tables

The ``analytics`` schema (PostgreSQL; ``analytics_*`` views on SQLite) covers every figure of the
data dictionary and the report with personal fields left out or reduced
(:mod:`wishflow.warehouse.analytics`). ``pseudonym_salts`` and ``customer_keys`` hold the salt and
each order's key; analysts read only the key, through ``analytics.orders``. The analyst role itself
is granted by ``wishflow db grant-analyst ROLE`` (roles belong to the server, not the database).

Revision ID: 0007_analytics
Revises: 0006_action_items (it reads tables and views of every branch)
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wishflow.warehouse.types
from wishflow.warehouse.analytics import create_statements, drop_statements

revision: str = "0007_analytics"
down_revision: str | Sequence[str] | None = "0006_action_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pseudonym_salts",
        sa.Column("salt_id", sa.Integer(), autoincrement=False, nullable=False, comment="Always 1: one salt per warehouse."),
        sa.Column(
            "salt", sa.String(length=64), nullable=False, comment="Random salt of the customer keys (never shown to analysts)."
        ),
        sa.Column(
            "created_at", wishflow.warehouse.types.UTCDateTime(timezone=True), nullable=False, comment="When the salt was drawn."
        ),
        sa.PrimaryKeyConstraint("salt_id"),
        comment="The warehouse's secret salt for pseudonymous customer keys; analysts cannot read it.",
    )
    op.create_table(
        "customer_keys",
        sa.Column("store", sa.String(length=100), nullable=False, comment="The merchant store."),
        sa.Column("order_id", sa.String(length=64), nullable=False, comment="Wish's order id."),
        sa.Column(
            "customer_key",
            sa.String(length=32),
            nullable=False,
            comment="md5 of the salt and the normalised recipient name and address: the same customer, the same key.",
        ),
        sa.Column(
            "computed_at", wishflow.warehouse.types.UTCDateTime(timezone=True), nullable=False, comment="When the key was computed."
        ),
        sa.PrimaryKeyConstraint("store", "order_id"),
        comment="Each order's pseudonymous customer key, kept when retention blanks the name and address.",
    )
    dialect = op.get_bind().dialect.name
    for statement in create_statements(dialect, "0007"):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in drop_statements(dialect, "0007"):
        op.execute(statement)
    op.drop_table("customer_keys")
    op.drop_table("pseudonym_salts")
