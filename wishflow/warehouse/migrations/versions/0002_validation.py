"""validation: order_validations, order_validation_failures, validation_runs; deadline and quarantine views

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wishflow.warehouse.types
from sqlalchemy.dialects import postgresql

from wishflow.warehouse.validation_views import drop_statements, view_statements

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = wishflow.warehouse.types.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('order_validations',
    sa.Column('store', sa.String(length=100), nullable=False, comment='The merchant store.'),
    sa.Column('order_id', sa.String(length=64), nullable=False, comment="Wish's order id."),
    sa.Column('validated_updated_at', _TS, nullable=False, comment="The order's updated_at that was judged; a newer version is validated again."),
    sa.Column('status', sa.String(length=16), nullable=False, comment='valid or invalid (quarantined).'),
    sa.Column('blocking_failures', sa.Integer(), nullable=False, comment='Blocking rules the version failed.'),
    sa.Column('warning_failures', sa.Integer(), nullable=False, comment='Warning rules the version failed.'),
    sa.Column('run_id', sa.String(length=64), nullable=True, comment='The run that judged it.'),
    sa.Column('validated_at', _TS, nullable=False, comment='When it was judged.'),
    sa.Column('quarantined_since', _TS, nullable=True, comment='Start of the current quarantine (null when valid).'),
    sa.Column('released_from_quarantine_at', _TS, nullable=True, comment='When a fixed version last passed.'),
    sa.Column('_loaded_at', _TS, nullable=False, comment='When Wishflow wrote this row (UTC).'),
    sa.PrimaryKeyConstraint('store', 'order_id', name=op.f('pk_order_validations')),
    comment='Current validation verdict per order; invalid orders are quarantined and never shipped.'
    )
    op.create_index(op.f('ix_order_validations_store_status'), 'order_validations', ['store', 'status'], unique=False)
    op.create_table('order_validation_failures',
    sa.Column('store', sa.String(length=100), nullable=False, comment='The merchant store.'),
    sa.Column('order_id', sa.String(length=64), nullable=False, comment="Wish's order id."),
    sa.Column('expectation', sa.String(length=100), nullable=False, comment='The rule that failed (see the suites).'),
    sa.Column('column_name', sa.String(length=64), nullable=False, comment='The column the rule checks.'),
    sa.Column('severity', sa.String(length=16), nullable=False, comment='blocking (quarantines the order) or warning.'),
    sa.Column('observed_value', sa.Text(), nullable=True, comment='The value seen when the rule last failed.'),
    sa.Column('run_id', sa.String(length=64), nullable=True, comment='The run that last saw the failure.'),
    sa.Column('first_seen_at', _TS, nullable=False, comment='First time the rule failed.'),
    sa.Column('last_seen_at', _TS, nullable=False, comment='Latest time the rule failed.'),
    sa.Column('resolved_at', _TS, nullable=True, comment='When a later version of the order passed the rule.'),
    sa.Column('_loaded_at', _TS, nullable=False, comment='When Wishflow wrote this row (UTC).'),
    sa.PrimaryKeyConstraint('store', 'order_id', 'expectation', name=op.f('pk_order_validation_failures')),
    comment='Validation findings per order and rule, merged on that key; resolved, never deleted.'
    )
    op.create_index(op.f('ix_order_validation_failures_store_resolved_at'), 'order_validation_failures', ['store', 'resolved_at'], unique=False)
    op.create_table('validation_runs',
    sa.Column('run_id', sa.String(length=64), nullable=False, comment='The flow run (or a generated id).'),
    sa.Column('batch_number', sa.Integer(), nullable=False, comment='Batch within the run, from 1.'),
    sa.Column('store', sa.String(length=100), nullable=False, comment='The merchant store.'),
    sa.Column('validated_at', _TS, nullable=False, comment='The clock the batch was judged by.'),
    sa.Column('orders_validated', sa.Integer(), nullable=False, comment='Orders in the batch.'),
    sa.Column('orders_valid', sa.Integer(), nullable=False, comment='Orders that passed every blocking rule.'),
    sa.Column('orders_invalid', sa.Integer(), nullable=False, comment='Orders quarantined by the batch.'),
    sa.Column('failures_by_expectation', _JSON, nullable=False, comment='Failing orders per rule.'),
    sa.Column('gx_result', _JSON, nullable=False, comment="Great Expectations' result JSON (value lists sampled)."),
    sa.Column('seconds', sa.Integer(), nullable=True, comment='Whole seconds spent validating.'),
    sa.Column('_loaded_at', _TS, nullable=False, comment='When Wishflow wrote this row (UTC).'),
    sa.PrimaryKeyConstraint('run_id', 'batch_number', name=op.f('pk_validation_runs')),
    comment='One row per validated batch: counts and the Great Expectations result.'
    )
    dialect = op.get_bind().dialect.name
    for statement in view_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements():
        op.execute(statement)
    op.drop_table('validation_runs')
    op.drop_index(op.f('ix_order_validation_failures_store_resolved_at'), table_name='order_validation_failures')
    op.drop_table('order_validation_failures')
    op.drop_index(op.f('ix_order_validations_store_status'), table_name='order_validations')
    op.drop_table('order_validations')
