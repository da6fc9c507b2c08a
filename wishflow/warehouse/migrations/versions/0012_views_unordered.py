"""The deadline views leave their order to whoever reads them

``v_unprocessed_orders``, ``v_orders_at_risk`` and ``v_quarantined_orders`` lose their final ``ORDER
BY expected_ship_time``: PostgreSQL computed and sorted every row of such a view before the reader's
``LIMIT`` or ``count(*)`` applied, so an incremental run's queue counts, artifacts and deadline
warning cost more as the history grew (issue 20). The readers order what they show (``ORDER BY
expected_ship_time, order_id``); columns and rows are unchanged
(:func:`wishflow.warehouse.validation_views.unordered_view_statements_0012`).

Revision ID: 0012_views_unordered
Revises: 0011_at_risk_not_quarantined
"""
from collections.abc import Sequence

from alembic import op

from wishflow.warehouse.validation_views import ordered_view_statements_0011, unordered_view_statements_0012

revision: str = "0012_views_unordered"
down_revision: str | Sequence[str] | None = "0011_at_risk_not_quarantined"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in unordered_view_statements_0012(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in ordered_view_statements_0011(op.get_bind().dialect.name):
        op.execute(statement)
