"""Tracking numbers bought elsewhere, for a batch of orders.

A CSV file with the header ``order_id,carrier,tracking_number`` (``wishflow ship run --tracking-file FILE.csv``).

This is how a merchant with a live account ships a batch when labels are bought outside Wishflow
(a carrier's website, a label service, a warehouse's system). Every row is checked on its own: a bad
row (an empty field, a number Wish would refuse or one that does not fit the carrier's format, an
order or number given twice with different values) is reported with its line number and the others
ship. Shipping goes through the outbox like every shipment, so running the same file again sends
nothing twice: orders already shipped are reported as such.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from wishflow.errors import ConfigError
from wishflow.shipping.labels import LabelError, check_tracking_number

COLUMNS = ("order_id", "carrier", "tracking_number")


@dataclass(frozen=True)
class TrackingRow:
    """One row of a tracking file, checked."""

    line: int  # the line in the file (the header is line 1)
    order_id: str
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class RowProblem:
    """A row that will not ship, with its line so the merchant can fix the file."""

    line: int
    order_id: str
    reason: str

    def describe(self) -> str:
        """The problem as one line for the report."""
        return f"line {self.line} (order {self.order_id or '?'}): {self.reason}"


@dataclass
class TrackingFile:
    """The good rows (one per order) and the bad rows with their reasons."""

    rows: list[TrackingRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def by_carrier(self) -> dict[str, dict[str, str]]:
        """``carrier -> {order_id: tracking number}``, carriers in the order they first appear."""
        out: dict[str, dict[str, str]] = {}
        for row in self.rows:
            out.setdefault(row.carrier, {})[row.order_id] = row.tracking_number
        return out

    def line_of(self, order_id: str) -> int:
        """The file line of ``order_id``'s row (0 when absent)."""
        return next((r.line for r in self.rows if r.order_id == order_id), 0)


def parse_tracking_rows(lines: list[dict[str, str | None]], *, first_line: int = 2) -> TrackingFile:
    """Check each row (a mapping with the :data:`COLUMNS`); see the module docstring."""
    result = TrackingFile()
    by_order: dict[str, TrackingRow] = {}
    by_number: dict[str, TrackingRow] = {}
    for line, raw in enumerate(lines, start=first_line):
        order_id = (raw.get("order_id") or "").strip()
        carrier = (raw.get("carrier") or "").strip()
        number = (raw.get("tracking_number") or "").strip()
        if not (order_id or carrier or number):
            continue  # a blank line
        missing = [c for c, v in zip(COLUMNS, (order_id, carrier, number), strict=True) if not v]
        if missing:
            result.problems.append(RowProblem(line, order_id, f"{' and '.join(missing)} empty"))
            continue
        try:
            number = check_tracking_number(number, carrier)
        except LabelError as exc:
            result.problems.append(RowProblem(line, order_id, str(exc)))
            continue
        row = TrackingRow(line, order_id, carrier, number)
        earlier = by_order.get(order_id)
        if earlier is not None:
            if (earlier.carrier.lower(), earlier.tracking_number.upper()) != (carrier.lower(), number.upper()):
                result.problems.append(
                    RowProblem(line, order_id, f"order is on line {earlier.line} with another carrier or number")
                )
            continue  # the same row twice: ship it once
        other = by_number.get(number.upper())
        if other is not None:
            result.problems.append(
                RowProblem(
                    line,
                    order_id,
                    f"tracking number {number} is already given to order {other.order_id} on line {other.line}",
                )
            )
            continue
        by_order[order_id] = by_number[number.upper()] = row
        result.rows.append(row)
    return result


def read_tracking_file(path: str | Path) -> TrackingFile:
    """Read and check a tracking file.

    A missing file or header is a :class:`ConfigError` (nothing in the file can be trusted); bad rows are returned in
    :attr:`TrackingFile.problems`.
    """
    hint = "give a CSV file with the header order_id,carrier,tracking_number (see docs/going-live.md)"
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(h or "").strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ConfigError(f"tracking file {path} lacks the column(s) {', '.join(missing)}", hint=hint)
            reader.fieldnames = header
            rows = list(reader)
    except OSError as exc:
        raise ConfigError(
            f"cannot read tracking file {path} ({exc.strerror or type(exc).__name__})", hint=hint
        ) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"tracking file {path} is not a readable CSV file ({exc})", hint=hint) from None
    result = parse_tracking_rows(rows)
    if not result.rows and not result.problems:
        raise ConfigError(f"tracking file {path} has no rows", hint=hint)
    return result
