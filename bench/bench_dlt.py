"""The peer: dlt's ``rest_api`` source loading the same sandbox orders into PostgreSQL.

Merge on the order id, incremental on ``updated_at``, a paginator for Wish's keyset pagination.
Run with its defaults and with its documented speed settings (CSV load files, compression off).
dlt is a benchmark-only dependency: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timedelta
from typing import Any


def _paginator(limit: int) -> Any:
    from dlt.sources.helpers.rest_client.paginators import BasePaginator

    class WishKeysetPaginator(BasePaginator):  # type: ignore[misc]
        """Next page from the last ``updated_at`` (inclusive); steps 1 ms past a page of ties."""

        def __init__(self) -> None:
            super().__init__()
            self.cursor: str | None = None

        def update_state(self, response: Any, data: list[Any] | None = None) -> None:  # noqa: ARG002 (dlt's BasePaginator)
            items = response.json().get("data") or []
            if len(items) < limit:
                self._has_next_page = False
                return
            last = items[-1]["updated_at"]
            if last == self.cursor:
                moved = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(milliseconds=1)
                last = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
            self.cursor = last

        def update_request(self, request: Any) -> None:
            if self.cursor is not None:
                request.params["updated_at_min"] = self.cursor

    return WishKeysetPaginator()


def run(api_url: str, token: str, dsn: str, *, tuned: bool, limit: int = 500) -> tuple[int, float]:
    """Load every order with dlt; returns (rows in the orders table, seconds)."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    if tuned:
        os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "true"
    else:
        os.environ.pop("DATA_WRITER__DISABLE_COMPRESSION", None)
    source = rest_api_source(
        {
            "client": {
                "base_url": api_url.rstrip("/") + "/",
                "auth": {"type": "bearer", "token": token},
                "paginator": _paginator(limit),
            },
            "resources": [
                {
                    "name": "orders",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "orders",
                        "data_selector": "data",
                        "params": {
                            "limit": limit,
                            "sort_by": "updated_at.asc",
                            "updated_at_min": {
                                "type": "incremental",
                                "cursor_path": "updated_at",
                                "initial_value": "2000-01-01T00:00:00.000Z",
                            },
                        },
                    },
                }
            ],
        }
    )
    with tempfile.TemporaryDirectory() as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name=f"wish_bench_{'tuned' if tuned else 'default'}",
            destination=dlt.destinations.postgres(credentials=dsn),
            dataset_name=f"dlt_{'tuned' if tuned else 'default'}",
            pipelines_dir=pipelines_dir,
            progress="log" if False else None,
        )
        started = time.perf_counter()
        if tuned:
            pipeline.run(source, loader_file_format="csv")
        else:
            pipeline.run(source)
        elapsed = time.perf_counter() - started
        with pipeline.sql_client() as client:
            rows = client.execute_sql(f"SELECT count(*) FROM {pipeline.dataset_name}.orders")[0][0]
    return int(rows), elapsed
