"""Dialect-aware bulk primitives: staging tables, COPY, and guarded upserts.

SQLAlchemy's ``INSERT ... ON CONFLICT`` goes one row per round trip on PostgreSQL unless it has
``RETURNING`` (DESIGN.md §7), so batches are staged first: ``COPY`` into a temporary table on
PostgreSQL, ``executemany`` on SQLite, then one set-based statement moves the batch. Everything here
runs inside the caller's transaction, so a batch commits whole or not at all.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import JSON, Column, Connection, Engine, Index, MetaData, Select, Table, Text, delete, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import ColumnElement

_stage_metadata = MetaData()
#: Two threads of one process (two pulls at once, the pull's loader thread beside validation) may ask
#: for the same stage first at the same moment; defining it twice in one MetaData raises.
_stage_lock = threading.Lock()


def stage_table(target: Table, name: str | None = None, *, key_index: bool = True) -> Table:
    """A temporary table with ``target``'s columns and no constraints, defined once per process.

    ``key_index=False`` leaves out the index on the target's key, for a stage that every statement
    reads whole (the pull's page of orders: each staged row is looked up in the target, never the
    reverse, so the index was only maintained on every COPY).
    """
    stage_name = name or f"_stage_{target.name}"
    with _stage_lock:
        existing = _stage_metadata.tables.get(stage_name)
        if existing is not None:
            return existing
        return _define_stage(target, stage_name, key_index=key_index)


def _define_stage(target: Table, stage_name: str, *, key_index: bool) -> Table:
    columns = [
        Column(c.name, _stage_type(c), nullable=True)
        for c in target.columns
        if not _is_surrogate(c) and c.computed is None  # generated columns (money's *_e4) are never written
    ]
    staged = {c.name for c in columns}
    key = [c.name for c in target.primary_key.columns if c.name in staged]
    # An index on the target's key: a merge that joins the stage back (``... IN (SELECT key FROM
    # stage)``) stays an index lookup per row even when PostgreSQL misestimates an anti-join and
    # picks a nested loop (measured: 210 s instead of 4 s for a 50k-order validation batch).
    indexes = [Index(f"ix{stage_name}_key", *key)] if key and key_index else []
    return Table(stage_name, _stage_metadata, *columns, *indexes, prefixes=["TEMPORARY"])


def _stage_type(column: Column[Any]) -> Any:
    """JSON columns are staged as already-serialised text (JSONB on PostgreSQL, parsed by COPY)."""
    if isinstance(column.type, JSON):
        return Text().with_variant(JSONB(), "postgresql")
    return column.type


def _is_surrogate(column: Column[Any]) -> bool:
    return bool(column.primary_key and column.autoincrement is True)


def _copy_text(value: Any) -> str:
    r"""One value in COPY's text format.

    ``\N`` for NULL, and backslash, tab, newline and carriage return escaped in text (so NULL and
    ``''`` stay distinct and no value can break a row).
    """
    if value is None:
        return "\\N"
    if isinstance(value, str):
        text: str = value
        if "\\" in text:
            text = text.replace("\\", "\\\\")
        if "\t" in text or "\n" in text or "\r" in text:
            text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return text
    return _copy_text(_plain_text(value))


def _plain_text(value: Any) -> str:
    """A value that is neither text nor NULL, as COPY reads it (what ``str`` gives is still to be escaped)."""
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


#: Rows encoded at a time when a stage is filled from rows (not from text made ahead).
COPY_CHUNK_ROWS = 2_000


#: Stand-ins while a batch's text is made whole (see :func:`_copy_rows`): between fields, for NULL,
#: between rows. A value holding one of them makes the batch take the value-by-value way.
_FIELD, _NULL, _ROW = "\x00", "\x01", "\x02"
_STAND_INS = b"\x00\x01\x02"
#: what COPY's text format escapes, and its escape; the backslash first
_ESCAPES = ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"))


def _copy_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    r"""Rows in COPY's text format, as UTF-8.

    The rows are joined with stand-ins for the tab, ``\N`` and newline, encoded, and the whole
    text is escaped at once: a few scans of the bytes in C, where escaping value by value was a
    third of a page's preparation (bench/PROFILE.md). Escaping bytes is safe: UTF-8 encodes
    every character above ASCII with bytes above it. The stand-ins are control characters that text
    values do not hold (the order columns drop NUL, JSON escapes every control character); if the
    text holds more of them than were put in, a value held one, and the batch is escaped value by
    value instead.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return b""
    formatted: dict[datetime, str] = {}
    nulls = 0

    def plain(value: Any) -> str:
        # a value that is not text; what str() of an unknown type gives is escaped with the rest
        nonlocal nulls
        if value is None:
            nulls += 1
            return _NULL
        if type(value) is datetime:
            # batches repeat the same timestamps (the run's clock on every row): formatted once
            text = formatted.get(value)
            if text is None:
                text = formatted[value] = value.isoformat()
            return text
        return _plain_text(value)

    text = _ROW.join([_FIELD.join([v if type(v) is str else plain(v) for v in row]) for row in rows]).encode()
    put_in = (sum(map(len, rows)) - len(rows)) + nulls + (len(rows) - 1)  # between fields, NULLs, between rows
    if len(text) - len(text.translate(None, _STAND_INS)) != put_in:
        return _copy_rows_one_by_one(rows)
    for char, escaped in _ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text.replace(b"\x00", b"\t").replace(b"\x01", b"\\N").replace(b"\x02", b"\n") + b"\n"


def _copy_rows_one_by_one(rows: Iterable[Sequence[Any]]) -> bytes:
    """:func:`_copy_rows` value by value: for a batch in which a value holds one of its stand-ins."""
    return "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows).encode()


class _CopyRowsReader:
    """``rows`` as a file for ``COPY ... FROM STDIN``, encoded ``COPY_CHUNK_ROWS`` rows at a time.

    psycopg2 reads the file while the server loads it, so only one chunk of text exists at a time:
    the whole batch's text, its UTF-8 copy and the list ``join`` made of its lines were alive at
    once before (+17 MB for 50,000 validation verdicts, bench/PROFILE.md).
    """

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self._rows = iter(rows)

    def read(self, size: int = -1) -> bytes:  # noqa: ARG002 - a chunk of rows, whatever size psycopg2 asks
        """The next chunk of rows (psycopg2 sends whatever one call returns; ``b""`` ends the COPY)."""
        chunk = list(itertools.islice(self._rows, COPY_CHUNK_ROWS))
        return _copy_rows(chunk)


class _WholeText:
    """Text made ahead, handed to psycopg2 in one read.

    psycopg2 reads a file 8 KB at a time, taking the GIL back for each read: 150 reads for a page
    of 500 orders, each waiting its turn behind the thread that parses the next page.
    """

    def __init__(self, text: bytes) -> None:
        self._text: bytes | None = text

    def read(self, size: int = -1) -> bytes:  # noqa: ARG002 - everything at once, whatever size psycopg2 asks
        """The whole text the first time, then ``b""`` (which ends the ``COPY``)."""
        text, self._text = self._text, None
        return text or b""


_CREATE_STAGE: dict[str, str] = {}


def _create_stage_sql(conn: Connection, stage: Table) -> str:
    """``CREATE TEMPORARY TABLE IF NOT EXISTS`` for ``stage`` and its indexes, compiled once."""
    sql = _CREATE_STAGE.get(stage.name)
    if sql is None:
        parts = [str(CreateTable(stage, if_not_exists=True).compile(dialect=conn.dialect)).strip()]
        parts += [str(CreateIndex(ix, if_not_exists=True).compile(dialect=conn.dialect)) for ix in stage.indexes]
        sql = _CREATE_STAGE[stage.name] = "; ".join(parts)
    return sql


def copy_text(rows: Iterable[Sequence[Any]]) -> bytes:
    """``rows`` encoded for :func:`fill_stage`'s ``COPY`` ahead of time, as UTF-8.

    e.g. on a thread that is not holding a transaction open (the pull encodes the next page while the
    database merges this one).
    """
    return _copy_rows(rows)


def copy_into(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    encoded: bytes | None = None,
) -> None:
    """``COPY`` ``rows`` (or their :func:`copy_text`, ``encoded``) into ``table``'s ``columns`` (PostgreSQL).

    Bytes, not text: psycopg2 sends a bytes buffer as it is, where a StringIO holds 4 bytes per
    character and is read back in chunks, each encoded again (bench/PROFILE.md).
    """
    buffer: Any = _WholeText(encoded) if encoded is not None else _CopyRowsReader(rows)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur: Any = dbapi.cursor()
    try:
        cur.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (ENCODING 'UTF8')", buffer)
    finally:
        cur.close()


def fill_stage(
    conn: Connection,
    stage: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    encoded: bytes | None = None,
    analyze: bool = True,
) -> None:
    """Empty ``stage`` (creating it in this session if needed) and load ``rows`` into ``columns``.

    ``encoded`` is :func:`copy_text` of the same rows, already made (PostgreSQL uses it as it is).
    ``analyze=False`` skips the statistics (PostgreSQL) where every merge that joins the stage is a
    key lookup per staged row whatever the planner believes (a page of orders; see the caller).
    """
    if conn.dialect.name == "postgresql":
        # One round trip: the stage exists after the session's first batch, and SQLAlchemy's
        # ``checkfirst`` asked the catalog twice per batch (a tenth of a page's statements' time).
        # TRUNCATE is cheaper than DELETE on a 500-row stage refilled per page, and ANALYZE after the
        # load matters more: without statistics on a temporary table, PostgreSQL plans the merges
        # that join it as nested loops (24 s instead of 0.1 s for a 20k-order validation batch).
        conn.exec_driver_sql(f"{_create_stage_sql(conn, stage)}; TRUNCATE {stage.name}")
        # COPY's text format: a 2 KB JSON payload needs only its backslashes doubled, where CSV
        # quoting doubled every quote (a third of the page's load time went there).
        copy_into(conn, stage, columns, rows, encoded=encoded)
        if analyze:
            conn.exec_driver_sql(f"ANALYZE {stage.name}")
        return
    stage.create(conn, checkfirst=True)
    conn.execute(delete(stage))
    batch = [dict(zip(columns, row, strict=True)) for row in rows]
    if batch:
        conn.execute(stage.insert(), batch)


def copy_out_frame(
    conn: Connection,
    stmt: Select[Any],
    datetime_columns: Sequence[str] = (),
    float_columns: Sequence[str] = (),
    category_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows of ``stmt`` as a DataFrame of text, read with ``COPY ... TO STDOUT`` (PostgreSQL).

    pandas' C CSV parser reads the text; ``datetime_columns`` are UTC timestamps, and
    ``float_columns`` (numbers in the database, so always numbers in the text) ``float64``: 8 bytes
    a value where text was a Python string of 50 or more. Timestamps travel as integer microseconds
    since the epoch (:func:`_epoch_microseconds`), not as text: an ISO string is an 80-byte Python
    object per value until it is parsed, three columns of them 13 MB of a 50,000-order read's peak.
    ``category_columns`` (text with few distinct values: a country, a currency) are categoricals:
    one Python string per distinct value and a small integer per row, where plain text is a
    50-byte string per row (a 50,000-order batch's state, currency, country, province, city and
    SKU were 18 MB as text).

    Fetching rows costs Python work per value (psycopg2's conversion, SQLAlchemy's result
    processors, then pandas probing each tuple): 1.4 s to read and type 50k orders, against 0.7 s
    this way. Only SQL NULL becomes a missing value: text such as ``NA`` or ``null`` stays text,
    while an empty string is read as missing too (CSV cannot tell them apart to pandas). The text is
    parsed as it arrives, never held whole (:func:`_copied_out`).
    """
    if datetime_columns:
        timestamps = set(datetime_columns)
        stmt = stmt.with_only_columns(
            *[
                _epoch_microseconds(column).label(column.name) if column.name in timestamps else column
                for column in stmt.selected_columns
            ],
            maintain_column_froms=True,
        )
    compiled = stmt.compile(dialect=conn.dialect)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur: Any = dbapi.cursor()
    try:
        # mogrify: the driver quotes the bound values, nothing is formatted into SQL by hand
        bound_select = cur.mogrify(str(compiled), compiled.params).decode()
        # any other date or time as ISO 8601 whatever the server's or the session's DateStyle
        cur.execute("SET LOCAL datestyle TO ISO")
        # microseconds are below 2**53 until the year 2255, so float64 holds them exactly (and a null)
        numbers: dict[str, str] = dict.fromkeys([*float_columns, *datetime_columns], "float64")
        numbers.update(dict.fromkeys(category_columns, "category"))
        copy_sql = f"COPY ({bound_select}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
        with _copied_out(cur, copy_sql) as text:
            frame = pd.read_csv(
                text,
                # every other column stays text (a ZIP code "01234" is not a number)
                dtype=defaultdict(lambda: "str", numbers),
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8",
            )
    finally:
        cur.close()
    for column in datetime_columns:
        frame[column] = _utc_from_microseconds(frame[column].to_numpy())
    return frame


@contextmanager
def _copied_out(cur: Any, copy_sql: str) -> Iterator[io.BufferedReader]:
    """The output of ``copy_sql`` (a ``COPY ... TO STDOUT``) as a stream read while the server sends it.

    The driver writes the rows into a pipe from a thread of its own while the caller parses them, so
    the whole text is never held (a 50,000-order batch's 10 MB, on top of the frame parsed from it,
    was part of the 1M validation's peak) and parsing overlaps the server's work. If the caller
    stops reading (a parse error), the pipe is closed and the driver's ``COPY`` fails on it; if the
    ``COPY`` fails (a server error mid-way), that error is raised, even when what arrived parsed.
    """
    read_fd, write_fd = os.pipe()
    source, sink = open(read_fd, "rb"), open(write_fd, "wb")  # noqa: SIM115 - closed below / by the sender
    failure: list[BaseException] = []

    def send() -> None:
        try:
            with sink:
                cur.copy_expert(copy_sql, sink)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, raised there
            failure.append(exc)

    sender = threading.Thread(target=send, name="copy-out", daemon=True)
    try:
        sender.start()
    except BaseException:
        source.close()
        sink.close()
        raise
    try:
        yield source
    except BaseException as reading:
        # unblocks a sender still writing (it fails on the closed pipe) when the reader stopped early
        source.close()
        sender.join()
        if failure and not isinstance(failure[0], BrokenPipeError):
            raise failure[0] from reading  # the server's error, which cut the text the reader choked on
        raise
    source.close()
    sender.join()
    if failure:
        raise failure[0]


def _epoch_microseconds(column: Any) -> Any:
    """``column`` (a ``timestamptz``) as whole microseconds since 1970 UTC, exact on every PostgreSQL.

    Whole seconds and the microseconds within them are extracted apart: ``EXTRACT(EPOCH ...)`` is
    a ``double precision`` before PostgreSQL 14, which cannot hold 16 digits of microseconds.
    """
    seconds = sa.cast(sa.extract("epoch", sa.func.date_trunc("second", column)), sa.BigInteger)
    within = sa.cast(sa.extract("microseconds", column), sa.BigInteger) % 1_000_000
    return seconds * 1_000_000 + within


def _utc_from_microseconds(values: np.ndarray[Any, Any]) -> pd.DatetimeIndex:
    """Float microseconds since the epoch (NaN for null) as UTC timestamps, to the microsecond."""
    missing = np.isnan(values)
    whole = np.where(missing, 0, values).astype(np.int64).view("M8[us]")
    whole[missing] = np.datetime64("NaT")
    return pd.DatetimeIndex(whole).tz_localize(UTC)


@contextmanager
def write_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A transaction that reads, then writes, on a connection of ``bind``'s pool or on ``bind`` itself.

    On SQLite it starts with ``BEGIN IMMEDIATE``: a deferred transaction that has read cannot upgrade to
    a write once another connection has committed one (WAL mode answers "database is locked" at once,
    without the busy timeout), while ``IMMEDIATE`` waits its turn for the write lock, which also makes
    the shipping outbox's claims atomic (claims are serialised). PostgreSQL needs nothing special: there
    the claim query itself locks its rows with ``SKIP LOCKED``.

    A caller that writes many transactions in a row (the pull's loader thread, a page each) passes the
    connection it holds: a checkout from the pool costs a round trip of its own (the pre-ping).
    """
    if isinstance(bind, Connection):
        yield from _transaction_on(bind)
        return
    with bind.connect() as conn:
        yield from _transaction_on(conn)


def _transaction_on(conn: Connection) -> Iterator[Connection]:
    """:func:`write_transaction`'s body on one connection: committed if the block ends, else rolled back."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return
    with conn.begin():
        yield conn


def dialect_insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the warehouse supports PostgreSQL and SQLite, not {conn.dialect.name}")


def upsert_from_stage(
    conn: Connection,
    target: Table,
    stage: Table,
    key: Sequence[str],
    *,
    newer_than: str | None = None,
    update: bool = True,
    insert_only: Sequence[str] = (),
) -> int:
    """Merge ``stage`` into ``target`` on ``key``.

    With ``newer_than`` set to a timestamp column, an existing row is only replaced by a strictly
    newer payload, so an older or identical payload never overwrites what is there (loading the same
    data twice changes nothing). With ``update=False`` existing rows are left alone (append-only).
    ``insert_only`` columns are written when a row is created and never updated.
    Returns the number of rows inserted or updated.
    """
    columns = [c.name for c in stage.columns]
    source = select(*[stage.c[name] for name in columns]).where(true())
    stmt = dialect_insert(conn, target).from_select(columns, source)
    if update:
        excluded = stmt.excluded
        where: ColumnElement[bool] | None = None
        if newer_than is not None:
            where = target.c[newer_than] < excluded[newer_than]
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={name: excluded[name] for name in columns if name not in key and name not in insert_only},
            where=where,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    return conn.execute(stmt).rowcount or 0
