"""Hand GX's column rules the columns they read, not the whole batch.

GX 1.x's pandas engine gives every column-map metric the whole batch (``get_domain_records``) and
filters rows there: ``df[df[column].notnull()]`` before the rule and again before it lists the
failing rows. Each filter copies every column of the prepared batch (32 of them), about 160
whole-batch copies per validation, for a rule that then reads one column (two for a pair rule, its
list for a compound one): 0.15-0.2 s of a 50,000-order batch's 1.1 s; validating 1M orders in the
flow, 26.7 -> 23 s of GX and 40.5 -> 37.6 s in all (bench/PROFILE.md).

Inside :func:`domains_narrowed` (entered by ``validate_frame``, which holds the validation lock),
the records of a column, column-pair or column-list domain are the batch restricted to those
columns, after GX has applied the domain's row condition and ``ignore_row_if`` to the whole batch,
so the rows, their order and their index are exactly GX's. Table domains (row counts, the column
list) still get the whole batch. Where a domain names a column the batch lacks, GX gets the whole
batch and reports the missing column itself. A test compares both suites' full results with and
without it.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_active = threading.local()
_installed: set[Any] = set()  # the classes wrapped (GX's PandasExecutionEngine)
_install_lock = threading.Lock()


def domain_columns(domain_kwargs: dict[str, Any]) -> list[str] | None:
    """The columns a domain's rule reads, or None for a table domain (every column)."""
    if "column" in domain_kwargs:
        return [domain_kwargs["column"]]
    if "column_A" in domain_kwargs and "column_B" in domain_kwargs:
        return [domain_kwargs["column_A"], domain_kwargs["column_B"]]
    if "column_list" in domain_kwargs:
        return list(domain_kwargs["column_list"])
    return None


def install(engine_class: Any) -> bool:
    """Wrap ``engine_class.get_domain_records`` (GX's pandas engine) so that narrowing can apply.

    Returns whether it is wrapped; an engine without that method is left as it is (validation is
    then slower, never wrong).
    """
    with _install_lock:
        if engine_class in _installed:
            return True
        original = inspect.getattr_static(engine_class, "get_domain_records", None)
        if not inspect.isfunction(original):
            return False

        def get_domain_records(self: Any, domain_kwargs: dict[str, Any]) -> Any:
            data = original(self, domain_kwargs)
            if not getattr(_active, "on", False):
                return data
            columns = domain_columns(domain_kwargs)
            if columns is None or len(set(columns)) != len(columns):
                return data
            present = data.columns
            if not present.is_unique or not all(c in present for c in columns):
                return data
            return data[columns]

        get_domain_records.__doc__ = original.__doc__
        engine_class.get_domain_records = get_domain_records
        _installed.add(engine_class)
        return True


@contextmanager
def domains_narrowed() -> Iterator[None]:
    """Within the block (the calling thread only), column domains get their columns only."""
    if getattr(_active, "on", False):  # nested: the outer block switches it off
        yield
        return
    _active.on = True
    try:
        yield
    finally:
        _active.on = False
