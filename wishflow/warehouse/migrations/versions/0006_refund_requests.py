"""refund requests: the outbox of merchant-requested refunds (same exactly-once states as shipments)

Revision ID: 0006r
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wishflow.warehouse.types

revision: str = "0006r"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = wishflow.warehouse.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "refund_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False, comment="Id of this refund request."),
        sa.Column("store", sa.String(length=100), nullable=False, comment="The merchant store."),
        sa.Column("order_id", sa.String(length=64), nullable=False, comment="Wish's order id."),
        sa.Column(
            "active_order_id",
            sa.String(length=64),
            nullable=True,
            comment="order_id while in flight or in conflict, else NULL.",
        ),
        sa.Column(
            "reason",
            sa.String(length=64),
            nullable=False,
            comment="Refund reason sent (one of the order's refund_reasons).",
        ),
        sa.Column("note", sa.Text(), nullable=True, comment="Optional refund_reason_note sent with it."),
        sa.Column(
            "state", sa.String(length=16), nullable=False, comment="planned, submitting, submitted, confirmed, ..."
        ),
        sa.Column("attempts", sa.Integer(), nullable=False, comment="Times the request was claimed for sending."),
        sa.Column(
            "claimed_by", sa.String(length=128), nullable=True, comment="Worker holding the row while submitting."
        ),
        sa.Column("claimed_at", _TS, nullable=True, comment="When the current claim was taken."),
        sa.Column("sent_at", _TS, nullable=True, comment="Set just before the PUT."),
        sa.Column(
            "last_error", sa.Text(), nullable=True, comment="Why the last attempt failed, conflicted or was uncertain."
        ),
        sa.Column(
            "wish_processing_status",
            sa.String(length=32),
            nullable=True,
            comment="Last processing_status read from Wish.",
        ),
        sa.Column("planned_at", _TS, nullable=False, comment="When the refund was requested."),
        sa.Column("finished_at", _TS, nullable=True, comment="When it became confirmed, failed or conflict."),
        sa.Column("updated_at", _TS, nullable=False, comment="Last change of this row."),
        sa.Column("run_id", sa.String(length=64), nullable=True, comment="The run that requested it."),
        sa.Column("_loaded_at", _TS, nullable=False, comment="When Wishflow wrote this row (UTC)."),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_refund_requests")),
        sa.UniqueConstraint("store", "active_order_id", name=op.f("uq_refund_requests_store_active_order_id")),
        comment="Refund outbox (merchant-requested refunds): the same exactly-once states as shipments.",
    )


def downgrade() -> None:
    op.drop_table("refund_requests")
