"""COPY's text format made a batch at a time: the same bytes as escaping value by value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from wishflow.warehouse.bulk import _copy_rows_one_by_one, copy_text

WHEN = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)

ROWS: list[tuple[Any, ...]] = [
    ("plain", None, "", Decimal("12.50"), 7, True, False, WHEN, date(2026, 3, 1)),
    ("back\\slash \\N", "tab\there", "line\nbreak\r\n", Decimal("1E+2"), -1, None, None, WHEN, None),
    ('{"name": "Zoë \\"quoted\\" 東京"}', "\\", "\\\\N", Decimal("0"), 0, False, True, WHEN, date(2000, 1, 1)),
]


def test_a_batch_is_escaped_as_each_value_would_be() -> None:
    text = copy_text(ROWS)
    assert text == _copy_rows_one_by_one(ROWS)
    lines = text.decode().split("\n")
    assert lines[-1] == ""  # every row ends with a newline, the last one too
    assert lines[0].split("\t") == [
        "plain", "\\N", "", "12.50", "7", "t", "f", "2026-03-01T12:30:45.123456+00:00", "2026-03-01"
    ]  # fmt: skip
    assert lines[1].split("\t")[:3] == ["back\\\\slash \\\\N", "tab\\there", "line\\nbreak\\r\\n"]


@pytest.mark.parametrize("stand_in", ["\x00", "\x01", "\x02"])
def test_a_value_holding_a_stand_in_character_is_still_escaped_right(stand_in: str) -> None:
    # the batch is joined with control characters standing for tab, NULL and newline: a value that
    # holds one must not turn into a separator or a NULL
    rows = [*ROWS, (f"a{stand_in}b", None, f"{stand_in}", Decimal("1"), 1, True, True, WHEN, None)]
    text = copy_text(rows)
    assert text == _copy_rows_one_by_one(rows)
    assert text.decode().split("\n")[3].split("\t")[:3] == [f"a{stand_in}b", "\\N", stand_in]


def test_no_rows_make_no_text() -> None:
    assert copy_text([]) == b""
    assert copy_text(iter(ROWS)) == copy_text(ROWS)  # an iterator as well as a list
