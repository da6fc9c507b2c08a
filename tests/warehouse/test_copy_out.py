"""Reading a query into a DataFrame through ``COPY ... TO STDOUT`` streamed into pandas (PostgreSQL).

The driver writes the rows into a pipe from a thread while pandas parses them; these tests check
what the stream must never do: return a frame when the server failed part-way, hang when the
parser stops reading, or leave the connection unusable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa

from wishflow.warehouse.bulk import copy_out_frame

pytestmark = pytest.mark.postgres

#: Rows enough that the text (about 3 MB) is many times a pipe's capacity: the sender is still
#: writing when the reader fails.
ROWS = 100_000


@pytest.fixture
def pg(postgres_database: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_database)
    yield engine
    engine.dispose()


def _series(rows: int = ROWS, divide_at: int | None = None) -> sa.Select[tuple[int, str, str, float]]:
    n = (
        sa.text("SELECT g AS n FROM generate_series(1, :rows) AS g")
        .bindparams(rows=rows)
        .columns(n=sa.Integer)
        .subquery("s")
    )
    value = sa.literal(1.5) if divide_at is None else sa.literal(1.0) / (n.c.n - divide_at)
    return (
        sa.select(
            n.c.n.label("n"),
            sa.cast(n.c.n, sa.Text).label("label"),
            sa.case((n.c.n % 3 == 0, "red"), else_="blue").label("colour"),
            value.label("value"),
        )
        .select_from(n)
        .order_by(n.c.n)
    )


def _copy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "copy-out"]


def test_every_row_arrives_typed_as_asked(pg: sa.Engine) -> None:
    with pg.connect() as conn:
        frame = copy_out_frame(conn, _series(), float_columns=["n", "value"], category_columns=["colour"])
    assert len(frame) == ROWS
    assert frame["n"].tolist() == [float(i) for i in range(1, ROWS + 1)]
    assert frame["label"].iloc[-1] == str(ROWS)
    assert isinstance(frame["colour"].dtype, pd.CategoricalDtype)
    assert sorted(frame["colour"].cat.categories) == ["blue", "red"]
    assert (frame["colour"] == "red").sum() == ROWS // 3
    assert not _copy_threads()


def test_a_server_error_part_way_raises_and_the_connection_is_usable_again(pg: sa.Engine) -> None:
    # row 90,000 divides by zero: the server has sent most of the rows when the COPY fails
    with pg.connect() as conn, pytest.raises(psycopg2.errors.DivisionByZero):
        copy_out_frame(conn, _series(divide_at=90_000), float_columns=["n", "value"])
    assert not _copy_threads()
    with pg.connect() as conn:  # the connection went back to the pool rolled back
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_a_parse_error_stops_the_sender_without_hanging(pg: sa.Engine) -> None:
    # "colour" holds words, so reading it as a number fails in pandas while the server still sends
    failed = threading.Event()

    def read() -> None:
        with pg.connect() as conn:
            with pytest.raises(ValueError, match="could not convert string to float"):
                copy_out_frame(conn, _series(), float_columns=["colour"])
            failed.set()

    reader = threading.Thread(target=read, daemon=True)  # a hang fails this test, not the session
    reader.start()
    reader.join(timeout=60)
    assert failed.is_set(), "the read hung or did not fail"
    assert not _copy_threads()
    with pg.connect() as conn:  # the pool's connection works (or was replaced)
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        frame = copy_out_frame(conn, _series(10), float_columns=["n"])
    assert frame["n"].tolist() == [float(i) for i in range(1, 11)]
