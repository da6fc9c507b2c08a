"""The ``Warehouse`` block: where Wishflow records everything.

A SQLAlchemy URL, kept secret because it may hold a password.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from blocks.loading import load_block
from wishflow.config import check_warehouse_url, warehouse_url_from_env


class Warehouse(Block):
    """The warehouse database: PostgreSQL in production, SQLite for a single machine."""

    _block_type_name = "Wishflow Warehouse"
    _block_type_slug = "wishflow-warehouse"
    _description = "SQLAlchemy URL of the Wishflow warehouse (postgresql+psycopg2://... or sqlite:///...)."

    url: SecretStr = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg2://user:pw@host/db.")


def resolve_warehouse_url(block_name: str | None = None) -> str:
    """The named block's URL, else ``WISHFLOW_WAREHOUSE_URL``, else the embedded SQLite file."""
    if block_name:
        return check_warehouse_url(load_block(Warehouse, block_name).url.get_secret_value())
    return warehouse_url_from_env()
