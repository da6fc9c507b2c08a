"""Wish's payloads are compressed with lz4 where PostgreSQL has it

An order's payload is about 2 KB of JSON, a little more as ``jsonb``, so with the flattened columns
beside it every ``orders`` row passes PostgreSQL's TOAST threshold and the payload is compressed on
the way in. With the default ``pglz`` that compression was a third of the pull's ``COPY`` of a page
(50 -> 33 microseconds per order with ``lz4``, bench/PROFILE.md), more than parsing the JSON; ``lz4``
also reads back several times faster. Values stored before keep their compression (PostgreSQL reads
both); the refunds', tickets', penalties' and quarantine's payloads get the same.

``lz4`` needs PostgreSQL 14 built with it (the Debian, Ubuntu, RHEL and Docker builds are); elsewhere
this migration changes nothing and the payloads stay ``pglz``.

Revision ID: 0013_payloads_lz4
Revises: 0012_views_unordered
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0013_payloads_lz4"
down_revision: str | Sequence[str] | None = "0012_views_unordered"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The columns holding Wish's payloads as they arrived (table, column).
PAYLOAD_COLUMNS = (
    ("orders", "raw"),
    ("refunds", "raw"),
    ("tickets", "raw"),
    ("penalties", "raw"),
    ("rejected_records", "raw"),
)


def _has_lz4() -> bool:
    """Whether the server can compress with lz4 (PostgreSQL 14 or later, built ``--with-lz4``)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    # the setting lists lz4 among its values only when the server was built with it (PG 14+)
    return bool(
        bind.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
    )


def upgrade() -> None:
    if _has_lz4():
        for table, column in PAYLOAD_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if _has_lz4():
        for table, column in PAYLOAD_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION DEFAULT")
