"""The warehouse's one SQLAlchemy ``MetaData``: every table module registers its tables here.

A module of its own so that :mod:`wishflow.warehouse.schema` (which imports every ``*_schema``
module to register their tables) and the ``*_schema`` modules (which need the metadata) do not
import each other.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
