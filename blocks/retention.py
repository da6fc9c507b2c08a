"""The ``RetentionPolicy`` block: how long customers' personal data of finished orders is kept.

The follow-up flow applies it (``tasks/retention.py``). Resolution: the block named by
``WISHFLOW_RETENTION_BLOCK``, else ``WISHFLOW_RETENTION_DAYS``, else keep everything.
"""

from __future__ import annotations

import os

from prefect.blocks.core import Block
from pydantic import Field

from blocks.loading import load_block
from wishflow.retention import RetentionPolicy as Policy

BLOCK_ENV = "WISHFLOW_RETENTION_BLOCK"
DAYS_ENV = "WISHFLOW_RETENTION_DAYS"


class RetentionPolicy(Block):
    """Personal fields of orders complete or refunded more than ``personal_data_days`` ago are blanked."""

    _block_type_name = "Wishflow Retention Policy"
    _block_type_slug = "wishflow-retention-policy"
    _description = "Days to keep customers' names, addresses and phone numbers after an order is finished."

    personal_data_days: int | None = Field(
        default=None, ge=1, description="Blank personal fields this many days after completion (empty: keep)."
    )
    trim_payloads: bool = Field(default=True, description="Also remove personal fields from the raw payloads.")

    def policy(self) -> Policy:
        """The library's policy for these settings (the block stays Prefect's; the library takes a plain value)."""
        return Policy(personal_data_days=self.personal_data_days, trim_payloads=self.trim_payloads)


def resolve_retention_policy(block_name: str | None = None) -> Policy:
    """The named block (or ``WISHFLOW_RETENTION_BLOCK``), else ``WISHFLOW_RETENTION_DAYS``, else keep."""
    name = block_name or os.environ.get(BLOCK_ENV)
    if name:
        return load_block(RetentionPolicy, name).policy()
    days = os.environ.get(DAYS_ENV, "").strip()
    if days:
        if not days.isdigit() or int(days) < 1:
            raise ValueError(f"{DAYS_ENV} must be a whole number of days (at least 1), not {days!r}")
        return Policy(personal_data_days=int(days))
    return Policy()
