"""drop the orders (store, updated_at) index, which no query reads

Every order the pull inserts or updates maintained it (the upsert changes ``updated_at`` on every
newer version), for no reader: no view, flow or report filters or sorts ``orders`` by
``updated_at`` (the pull's merge probes the primary key; the views use the deadline index and
``last_run_id``'s). Measured with bench/PROFILE.md's per-statement timings: the orders upsert of a
500-order page costs about a third less without it.

Revision ID: 0010_drop_orders_updated_index
Revises: 0009_fbw_not_open
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0010_drop_orders_updated_index"
down_revision: str | Sequence[str] | None = "0009_fbw_not_open"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_orders_store_updated_at", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_store_updated_at", "orders", ["store", "updated_at"], unique=False)
