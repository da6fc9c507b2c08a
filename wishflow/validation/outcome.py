"""What validating a batch of orders found, in plain Python (no GX objects leak out)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["blocking", "warning"]


@dataclass(frozen=True, slots=True)
class Failure:
    """One order failing one rule: the order, the rule, the column, what was seen, how serious.

    Slotted: a batch of 50,000 orders can carry tens of thousands (half the size without a ``__dict__``).
    """

    order_id: str | None
    expectation: str
    column: str
    observed_value: str | None
    severity: Severity
    gx_expectation: str


@dataclass
class ValidationOutcome:
    """The verdict on a batch: per-order failures, the orders checked, and GX's own result JSON.

    ``validated`` lists every ``(order_id, updated_at)`` checked, so the recorder can mark the
    exact version of each order it judged (a newer upstream version is judged again).
    """

    rows: int
    validated: list[tuple[str, datetime | None]]
    failures: list[Failure]
    gx_result: dict[str, Any]
    seconds: float = 0.0
    invalid_order_ids: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.invalid_order_ids = {
            f.order_id for f in self.failures if f.severity == "blocking" and f.order_id is not None
        }

    @property
    def valid_count(self) -> int:
        """Orders judged valid: validated and failing no blocking rule."""
        return len({oid for oid, _ in self.validated} - self.invalid_order_ids)

    @property
    def invalid_count(self) -> int:
        """Orders judged invalid (failing at least one blocking rule): they are quarantined."""
        return len(self.invalid_order_ids)

    @property
    def unattributed(self) -> list[Failure]:
        """Failures on rows without an order id: they cannot be quarantined, only reported."""
        return [f for f in self.failures if f.order_id is None]

    def counts_by_expectation(self) -> dict[str, int]:
        """Distinct failing orders per rule (a rule checked twice on one order counts once)."""
        seen = {(f.expectation, f.order_id) for f in self.failures}
        return dict(sorted(Counter(rule for rule, _ in seen).items()))

    def reasons(self, order_id: str) -> list[str]:
        """The blocking rules an order failed, sorted."""
        return sorted({f.expectation for f in self.failures if f.order_id == order_id and f.severity == "blocking"})
