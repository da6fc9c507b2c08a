"""Write helpers shared by the after-sales syncs: write only what changed, so reruns write nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Table, and_, or_, select, tuple_

from wishflow.warehouse.bulk import fill_stage, stage_table, upsert_from_stage

_IN_CHUNK = 500


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            return a is not None and b is not None and Decimal(a) == Decimal(b)
        except (ArithmeticError, TypeError, ValueError):
            return False
    return bool(a == b)


def _stage_value(value: Any, is_json: bool) -> Any:
    if is_json and value is not None and not isinstance(value, str):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return value


def existing_rows(
    conn: Connection, table: Table, key: Sequence[str], keys: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Existing rows of ``table`` by natural key (chunked, works on SQLite and PostgreSQL)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        where: Any
        if len(key) == 1:
            where = table.c[key[0]].in_([k[0] for k in chunk])
        elif conn.dialect.name == "postgresql":
            where = tuple_(*[table.c[k] for k in key]).in_(chunk)
        else:
            where = or_(*[and_(*[table.c[name] == value for name, value in zip(key, k, strict=True)]) for k in chunk])
        for row in conn.execute(select(table).where(where)).mappings():
            out[tuple(row[k] for k in key)] = dict(row)
    return out


def write_changed(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    loaded_at: datetime,
    ignore: Sequence[str] = ("_loaded_at",),
    newer_than: str | None = None,
) -> tuple[int, int]:
    """Upsert the rows that are new or differ from what is stored; returns ``(inserted, updated)``.

    ``newer_than`` names a source timestamp: an existing row is replaced only by a strictly newer one.
    """
    if not rows:
        return 0, 0
    by_key: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        by_key[tuple(row[k] for k in key)] = row
    existing = existing_rows(conn, table, key, list(by_key))
    columns = [
        c.name
        for c in table.columns
        if c.name != "_loaded_at" and not (c.primary_key and c.autoincrement is True) and c.computed is None
    ]
    compare = [c for c in columns if c not in ignore]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    changed: list[tuple[Any, ...]] = []
    inserted = updated = 0
    for k, row in by_key.items():
        old = existing.get(k)
        if old is not None:
            if (
                newer_than is not None
                and old[newer_than] is not None
                and row[newer_than] is not None
                and old[newer_than] > row[newer_than]
            ):
                continue
            if all(_same(old[c], row.get(c)) for c in compare):
                continue
            updated += 1
        else:
            inserted += 1
        changed.append(tuple(_stage_value(row.get(c), c in json_columns) for c in columns) + (loaded_at,))
    if changed:
        stage = stage_table(table)
        fill_stage(conn, stage, [*columns, "_loaded_at"], changed)
        upsert_from_stage(conn, table, stage, key)
    return inserted, updated
