"""action items: wrongly typed input kept visible, one meaning per queue, the merchant's action list

- ``orders.input_problems``: the fields Wish sent with the wrong type (their columns stay empty; the
  blocking rule ``field_types_valid`` holds the order).
- ``v_quarantined_orders`` lists open orders only and says how long each has been held
  (``hours_held``); ``v_quarantine_reasons`` has one row per open quarantined order and blocking rule.
- ``v_action_items``: one row per thing the merchant must do (see wishflow/actions/views.py).

Merges the heads 0003 (shipping), 0004 (tracking, after-sales) and 0005 (validation queue): the
action list reads all of them.

Revision ID: 0006_action_items
Revises: 0006r, 0004, 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wishflow.actions.views import action_drop_statements, action_view_statements
from wishflow.warehouse.validation_views import VIEW_NAMES_0006, view_statements_0005, view_statements_0006

revision: str = "0006_action_items"
down_revision: str | Sequence[str] | None = ("0006r", "0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INPUT_PROBLEMS_COMMENT = (
    "Fields Wish sent with the wrong type ('city: object {...} (expected text)'; '; '-separated); "
    "their columns stay empty and the order is quarantined (rule field_types_valid)."
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("orders", sa.Column("input_problems", sa.Text(), nullable=True, comment=_INPUT_PROBLEMS_COMMENT))
    for name in VIEW_NAMES_0006:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for statement in view_statements_0006(dialect):
        op.execute(statement)
    for statement in action_view_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in action_drop_statements():
        op.execute(statement)
    for name in VIEW_NAMES_0006:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for statement in view_statements_0005(dialect):
        op.execute(statement)
    op.drop_column("orders", "input_problems")
