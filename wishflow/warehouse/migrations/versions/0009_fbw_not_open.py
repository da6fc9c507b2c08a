"""Fulfilled-by-Wish orders leave the merchant's open orders (v_open_orders)

Issue 17's data over Wish's programs: an order with FULFILLED_BY_WISH in ``order_types`` is shipped by
Wish, so it is not waiting to ship, never at risk and never an action item for the merchant
(:func:`wishflow.warehouse.validation_views.open_orders_statements_0008`). Issue 17's one migration
(its currency work needed no schema change: every amount already stands beside its currency column);
it follows ``0008_money``, written at the same time.

Revision ID: 0009_fbw_not_open
Revises: 0008_money
"""
from collections.abc import Sequence

from alembic import op

from wishflow.warehouse.validation_views import open_orders_statements_0007, open_orders_statements_0008

revision: str = "0009_fbw_not_open"
down_revision: str | Sequence[str] | None = "0008_money"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in open_orders_statements_0008(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in open_orders_statements_0007(op.get_bind().dialect.name):
        op.execute(statement)
