"""Fulfilled-by-Wish orders leave the merchant's open orders (v_open_orders)

Issue 17's data over Wish's programs: an order with FULFILLED_BY_WISH in ``order_types`` is shipped by
Wish, so it is not waiting to ship, never at risk and never an action item for the merchant
(:func:`wishflow.warehouse.validation_views.open_orders_statements_0008`). Named ``0008_currency``
as issue 17's one migration (its currency work needed no schema change: every amount already stands
beside its currency column).

Revision ID: 0008_currency
Revises: 0007_analytics
"""
from collections.abc import Sequence

from alembic import op

from wishflow.warehouse.validation_views import open_orders_statements_0007, open_orders_statements_0008

revision: str = "0008_currency"
down_revision: str | Sequence[str] | None = "0007_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in open_orders_statements_0008(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in open_orders_statements_0007(op.get_bind().dialect.name):
        op.execute(statement)
