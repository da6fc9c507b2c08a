"""Configuration checks a command makes before it starts a flow.

A mistake a person must fix (an unmigrated warehouse, a live API root without a token, an API root
nobody answers on) is found here, before Prefect starts a temporary server or a task retries, and
reaches ``main`` as a :class:`wishflow.errors.ConfigError`: one ``error:`` line, exit status 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def preflight(*, warehouse: bool = True, wish: bool = True) -> None:
    """Check the setup before a run starts, without sending a request.

    The warehouse is reachable and migrated; the Wish settings resolve and the API root's host:port
    accepts a connection.
    """
    from wishflow.api.factory import settings_from_env_and_token_file
    from wishflow.config import check_api_reachable, warehouse_url_from_env
    from wishflow.warehouse.readiness import check_warehouse_ready

    if warehouse:
        check_warehouse_ready(warehouse_url_from_env())
    if wish:
        check_api_reachable(settings_from_env_and_token_file().api_base_url)


def check_pull_options(kwargs: Mapping[str, Any]) -> None:
    """A page size Wish refuses, or a backfill window that ends before it starts."""
    from wishflow.errors import ConfigError

    page_size = kwargs.get("page_size")
    if page_size is not None and not 1 <= int(page_size) <= 500:
        raise ConfigError(f"--page-size {page_size} is out of range", hint="Wish pages hold 1 to 500 orders")
    since, until = kwargs.get("since"), kwargs.get("until")
    if isinstance(since, datetime) and isinstance(until, datetime) and since > until:
        raise ConfigError(
            f"--since {since.isoformat()} is after --until {until.isoformat()}", hint="give --since before --until"
        )
