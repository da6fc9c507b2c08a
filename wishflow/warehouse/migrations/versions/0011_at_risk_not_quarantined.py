"""v_orders_at_risk leaves quarantined orders to the quarantine queue

Issue 18's leftover: the demo, the report and ``queue_counts`` printed "at risk: 21" while the
action list counted no ``order_at_risk`` at all, because the view counted quarantined open orders
that the action list (rightly) counts as ``quarantined_order``. At risk now means one thing
everywhere: open, valid or pending (never quarantined), under 24 hours left or overdue
(:data:`wishflow.warehouse.validation_views.AT_RISK_CONDITION`). The view keeps its columns.

Revision ID: 0011_at_risk_not_quarantined
Revises: 0010_drop_orders_updated_index
"""
from collections.abc import Sequence

from alembic import op

from wishflow.warehouse.validation_views import at_risk_statements_0010, at_risk_statements_0011

revision: str = "0011_at_risk_not_quarantined"
down_revision: str | Sequence[str] | None = "0010_drop_orders_updated_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in at_risk_statements_0011(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in at_risk_statements_0010(op.get_bind().dialect.name):
        op.execute(statement)
