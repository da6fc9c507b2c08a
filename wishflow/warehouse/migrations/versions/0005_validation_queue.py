"""validation queue and deadline index: pending orders move from a flag on ``orders`` to a narrow
table, and the deadline index ends with the order id

Judging an order used to clear ``orders.validation_pending``, which rewrote the order's wide row
(payload included) and every index on it: 3.2 s of a 100k-order validation batch. The queue holds
just the key and the version awaiting a verdict; a verdict deletes its row. The deadline views sort
by ``(expected_ship_time, order_id)``: with the id in the index, their first rows come off the index
instead of a sort of every open order.

Revision ID: 0005
Revises: 0002
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wishflow.warehouse.types

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_validation_queue",
        sa.Column("store", sa.String(length=100), nullable=False, comment="The merchant store."),
        sa.Column("order_id", sa.String(length=64), nullable=False, comment="Wish's order id."),
        sa.Column(
            "updated_at",
            wishflow.warehouse.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="The order version awaiting a verdict.",
        ),
        sa.Column(
            "queued_at",
            wishflow.warehouse.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the loader recorded that version.",
        ),
        sa.PrimaryKeyConstraint("store", "order_id", name=op.f("pk_order_validation_queue")),
        comment=(
            "Orders whose current version awaits validation: the loader adds each new or newer version, a "
            "verdict on it removes the row. A narrow table, so that judging an order never rewrites the "
            "order's wide row."
        ),
    )
    op.execute(
        "INSERT INTO order_validation_queue (store, order_id, updated_at, queued_at) "
        "SELECT store, order_id, updated_at, _loaded_at FROM orders WHERE validation_pending"
    )
    op.drop_index(
        "ix_orders_validation_pending",
        table_name="orders",
        postgresql_where=sa.text("validation_pending"),
        sqlite_where=sa.text("validation_pending"),
    )
    # SQLite (3.35+) drops a column in place; no view reads this one.
    op.drop_column("orders", "validation_pending")
    op.drop_index("ix_orders_store_state_expected_ship_time", table_name="orders")
    op.create_index(
        "ix_orders_store_state_expected_ship_time_order_id",
        "orders",
        ["store", "state", "expected_ship_time", "order_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_orders_store_state_expected_ship_time_order_id", table_name="orders")
    op.create_index(
        "ix_orders_store_state_expected_ship_time", "orders", ["store", "state", "expected_ship_time"], unique=False
    )
    op.add_column(
        "orders",
        sa.Column(
            "validation_pending",
            sa.Boolean(),
            server_default=sa.true(),
            nullable=False,
            comment="True from each newer payload until validation has judged that version.",
        ),
    )
    op.execute(
        "UPDATE orders SET validation_pending = "
        "EXISTS (SELECT 1 FROM order_validation_queue q WHERE q.store = orders.store AND q.order_id = orders.order_id)"
    )
    op.create_index(
        "ix_orders_validation_pending",
        "orders",
        ["store"],
        unique=False,
        postgresql_where=sa.text("validation_pending"),
        sqlite_where=sa.text("validation_pending"),
    )
    op.drop_table("order_validation_queue")
