"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Computed, DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text, so an aware value is converted on
    the way in and the zone restored on the way out. Analysts see one convention on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Store ``value`` in UTC (text is parsed, naive is taken as UTC; naive on SQLite, which has no zones)."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002 (TypeDecorator's signature)
        """Return the stored value as an aware UTC datetime (SQLite hands back naive ones or text)."""
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


#: Money as an exact decimal (a currency column always stands beside it).
Money = Numeric(18, 4, asdecimal=True)

#: Every money column ``x`` has an integer twin ``x_e4``: the amount times 10 000 (its 4 decimal
#: places), computed by the database from ``x``. SQLite has no decimal type: ``x`` is a binary number
#: there, exact to read one at a time (Wishflow reads it back as a ``Decimal``) but not to sum
#: (``SUM`` gave 4910.89999999999). Integers sum exactly on both databases, so SQL that sums money sums
#: ``x_e4`` and divides once, and the same query prints the same figure on PostgreSQL and SQLite.
MONEY_SCALE = 10_000
EXACT_SUFFIX = "_e4"


def exact_money_sql(column: str) -> str:
    """The expression of ``column``'s exact twin, valid on both databases.

    ROUND recovers the decimal from SQLite's binary number: exact below 10^11 in the currency's units.
    """
    return f"CAST(ROUND({column} * {MONEY_SCALE}) AS BIGINT)"


def exact_money(column: str, *, persisted: bool | None = True) -> Column[int]:
    """``column``'s exact twin ``<column>_e4``: generated, never written by Wishflow.

    PostgreSQL stores it (``STORED``: its generated columns are stored); SQLite computes it when read
    (``ALTER TABLE ADD COLUMN`` can only add a ``VIRTUAL`` one), so the migration passes
    ``persisted=None`` there. Generated columns need SQLite 3.31 or later to open the file (Python
    3.11's own SQLite is newer). Writers never name it: bulk staging and the aftersales merge skip
    columns whose ``computed`` is set.
    """
    return Column(
        column + EXACT_SUFFIX,
        BigInteger(),
        Computed(exact_money_sql(column), persisted=persisted),
        comment=f"{column} x {MONEY_SCALE:,} as an exact integer (generated): sum this in SQL, then divide "
        f"by {MONEY_SCALE}.0.".replace(",", " "),
    )


#: Raw API payloads: JSONB on PostgreSQL (queryable by analysts), JSON text on SQLite.
RawJSON = JSON().with_variant(JSONB(), "postgresql")

#: Free text.
LongText = Text()
