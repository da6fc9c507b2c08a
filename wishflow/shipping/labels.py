"""Where tracking numbers come from, and the checks every number passes before it is submitted.

Wish does not sell labels: a merchant buys them from a carrier or a label service and tells Wish the
tracking number. Every source of numbers implements one interface, :class:`LabelProvider`:

- :class:`TableLabels`: a CSV of numbers bought elsewhere (``order_id,tracking_number[,carrier]``,
  optionally ``cost`` and ``currency``: what the label cost); the shipping policy's
  ``label_provider: table`` with ``label_table_path``. For live accounts.
- :class:`SandboxLabels`: the sandbox's carrier (``POST /sandbox/labels``). Only in the embedded or
  sandbox profile (:mod:`wishflow.profile`); a live Wish has no such endpoint.
- :class:`ManualLabels`: numbers typed per run (``ship run --tracking``, ``--tracking-file``).

A merchant who buys labels through a carrier's API writes a class with a ``name`` and a
``numbers(parcels)`` method (see :class:`LabelProvider`; a number may come as a :class:`Label` that
carries the label's cost) and passes it to
:func:`wishflow.shipping.service.plan_and_save`. Every number, whatever its source, is checked (ASCII
letters and digits only, which is all Wish accepts, and the carrier's format when it is known) before
it is saved to the outbox, and saved before anything is sent. A reported cost is recorded on the
parcel's shipment (``shipments.label_cost``, :func:`record_label_costs`) so analysts can sum postage
by carrier.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine, and_, func, select, update

from wishflow.errors import ConfigError
from wishflow.profile import profile_for
from wishflow.shipping.batching import PlannedParcel

#: Known carrier formats (Wish shipping_provider names, lower-cased). A carrier missing here only gets
#: the letters-and-digits check.
_S10 = r"[A-Z]{2}\d{9}[A-Z]{2}"  # UPU S10, used by most postal operators
CARRIER_FORMATS: dict[str, re.Pattern[str]] = {
    name.lower(): re.compile(rf"^(?:{pattern})$")
    for name, pattern in {
        "USPS": r"9[1-5]\d{18,20}|" + _S10,
        "UPS": r"1Z[0-9A-Z]{16}",
        "FedEx": r"\d{12}|\d{15}|\d{20}|\d{22}",
        "DHL": r"\d{10,11}|JJD\d{18,20}",
        "DHLeCommerce": r"GM\d{16,18}|\d{10,22}",
        "YunExpress": r"YT\d{16}",
        "4PX": r"4PX\d{10,16}",
        "ChinaAirPost": _S10,
        "Yanwen": r"UG\d{9}YP|" + _S10,
        "WishPost": r"WI\d{13,16}",
        "SFExpress": r"SF\d{12,13}",
        "RoyalMail": _S10,
        "LaPoste": r"\d[A-Z]\d{11}|" + _S10,
        "DeutschePost": _S10,
        "PostNL": r"3S[A-Z0-9]{4}\d{6,9}|" + _S10,
        "CanadaPost": r"\d{12}|\d{16}|" + _S10,
        "AustraliaPost": _S10 + r"|[A-Z0-9]{10,12}\d{8,11}",
        "Correios": _S10,
        "CorreosDeMexico": _S10,
        "Correos": r"PQ[A-Z0-9]{19,21}|" + _S10,
    }.items()
}


class LabelError(ValueError):
    """A tracking number that must not be submitted, or a provider that could not give one."""


#: The most a label may cost (in its currency): a bigger figure is a typo or a unit mistake (cents).
MAX_LABEL_COST = Decimal("100000")


@dataclass(frozen=True)
class Label:
    """A tracking number with what the label cost, when the source reports it."""

    tracking_number: str
    cost: Decimal | None = None
    currency: str | None = None


def parse_cost(amount: Any, currency: Any, where: str) -> tuple[Decimal | None, str | None]:
    """A label cost as ``(amount, ISO 4217 code)``, or ``(None, None)`` when none is given.

    The amount is exact (a decimal, at most 4 places, 0 to :data:`MAX_LABEL_COST`) and needs a
    3-letter currency: postage is summed per currency, never across them.
    """
    if amount is None or (isinstance(amount, str) and not amount.strip()):
        return None, None
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float, Decimal)):
        raise LabelError(f"{where}: cost must be a number, not {type(amount).__name__}")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise LabelError(f"{where}: cost {amount!r} is not a number") from None
    if not value.is_finite() or value < 0 or value > MAX_LABEL_COST:
        raise LabelError(f"{where}: cost {amount!r} is out of range (0 to {MAX_LABEL_COST})")
    if value != value.quantize(Decimal("0.0001")):
        raise LabelError(f"{where}: cost {amount!r} has more than 4 decimal places")
    code = str(currency or "").strip().upper()
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise LabelError(f"{where}: a cost needs its ISO 4217 currency (e.g. USD), got {currency!r}")
    return value, code


def check_tracking_number(number: str, carrier: str | None = None) -> str:
    """The number, stripped, if Wish would accept it for ``carrier``; else :class:`LabelError`."""
    if not isinstance(number, str):
        raise LabelError(f"tracking number must be text, not {type(number).__name__}")
    value = number.strip()
    if not value:
        raise LabelError("tracking number is empty")
    if not (value.isascii() and value.isalnum()):
        raise LabelError(f"tracking number {value!r} must contain only letters and digits")
    if len(value) > 64:
        raise LabelError(f"tracking number {value!r} is longer than 64 characters")
    if carrier:
        pattern = CARRIER_FORMATS.get(carrier.strip().lower())
        if pattern is not None and not pattern.match(value.upper()):
            raise LabelError(f"tracking number {value!r} does not have the {carrier} format")
    return value


class LabelProvider(Protocol):
    """Gives one tracking number per parcel (combined orders share their parcel's number).

    The contract: ``numbers`` is called once per ship run, before anything is saved or sent, with
    every planned parcel (``parcel.parcel_id``, ``parcel.order_ids``, ``parcel.decision.carrier``,
    ``.service``, ``.package``, ``parcel.weight_grams``). It returns ``parcel_id -> tracking number``
    for the parcels it could label; parcels it leaves out stay unshipped and are reported, never sent
    without a number. It may raise :class:`LabelError` to stop the whole run (nothing is sent). A
    provider that buys labels should be idempotent per order (buying again for an order it already
    labelled returns the same number), because a crashed run plans the same orders again. A value may
    be a :class:`Label` instead of a plain number, to report what the label cost (recorded once per
    parcel in ``shipments.label_cost``).
    """

    name: str

    def numbers(self, parcels: Sequence[PlannedParcel]) -> Mapping[str, str | Label]:
        """``parcel_id -> tracking number`` (or :class:`Label`) for each parcel it can serve.

        Missing parcels stay unlabelled: the caller skips them rather than failing the batch.
        """
        ...


def _label(value: str | Label) -> Label:
    return value if isinstance(value, Label) else Label(str(value))


def _by_order(parcels: Sequence[PlannedParcel], numbers: Mapping[str, str | Label]) -> dict[str, str | Label]:
    """Pick each parcel's label from an order-id keyed mapping.

    A combined parcel's orders must agree on the number (and on the cost, when more than one gives it: one label, one
    cost).
    """
    out: dict[str, str | Label] = {}
    for parcel in parcels:
        labels = [_label(numbers[o]) for o in parcel.order_ids if o in numbers]
        found = {label.tracking_number for label in labels}
        if len(found) > 1:
            raise LabelError(f"orders combined in one parcel were given different numbers: {sorted(found)}")
        costs = {(label.cost, label.currency) for label in labels if label.cost is not None}
        if len(costs) > 1:
            raise LabelError(f"orders combined in one parcel were given different label costs: {sorted(costs)}")
        if found:
            number = found.pop()
            cost, currency = costs.pop() if costs else (None, None)
            out[parcel.parcel_id] = Label(number, cost, currency) if cost is not None else number
    return out


class ManualLabels:
    """Numbers given by hand: ``order_id -> tracking number`` (or :class:`Label`, with its cost)."""

    name = "manual"

    def __init__(self, numbers: Mapping[str, str | Label]) -> None:
        """Normalise numbers to stripped strings (a :class:`Label` is kept as given)."""
        self._numbers: dict[str, str | Label] = {
            str(k): v if isinstance(v, Label) else str(v).strip() for k, v in numbers.items()
        }

    def numbers(self, parcels: Sequence[PlannedParcel]) -> Mapping[str, str | Label]:
        """Each parcel's number, looked up by its orders (combined orders must agree on one)."""
        return _by_order(parcels, self._numbers)


class TableLabels:
    """Numbers imported from a CSV (``order_id,tracking_number[,carrier][,cost,currency]``) or any row iterable.

    ``cost`` is what the label cost (optional; with ``currency``); orders combined in one parcel share their label, so
    they give the same number and, if any gives one, the same cost.
    """

    name = "table"

    def __init__(self, rows: Sequence[Mapping[str, str]]) -> None:
        """Check each row (order id and number present, one number per order) and index them by order id."""
        self._numbers: dict[str, str | Label] = {}
        self.carriers: dict[str, str] = {}
        for i, row in enumerate(rows, start=1):
            order_id = (row.get("order_id") or "").strip()
            number = (row.get("tracking_number") or "").strip()
            if not order_id or not number:
                raise LabelError(f"label row {i}: order_id and tracking_number are required")
            cost, currency = parse_cost(row.get("cost"), row.get("currency"), f"label row {i}")
            self._numbers[order_id] = Label(number, cost, currency) if cost is not None else number
            if row.get("carrier"):
                self.carriers[order_id] = str(row["carrier"]).strip()

    @classmethod
    def from_csv(cls, source: str | Path | io.TextIOBase) -> TableLabels:
        """Read the rows of a CSV file (a path or an open text stream); a missing file is a configuration error."""
        if isinstance(source, (str, Path)):
            try:
                with open(source, newline="", encoding="utf-8") as fh:
                    return cls(list(csv.DictReader(fh)))
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the label table {source} ({exc.strerror or type(exc).__name__})",
                    hint="fix label_table_path in the shipping policy",
                ) from None
        return cls(list(csv.DictReader(source)))

    def numbers(self, parcels: Sequence[PlannedParcel]) -> Mapping[str, str | Label]:
        """Each parcel's number; a row naming another carrier than the parcel's decision is refused."""
        for parcel in parcels:
            for order_id in parcel.order_ids:
                named = self.carriers.get(order_id)
                if named and named.lower() != parcel.decision.carrier.lower():
                    raise LabelError(
                        f"label for order {order_id} is a {named} label but the plan ships it with "
                        f"{parcel.decision.carrier}"
                    )
        return _by_order(parcels, self._numbers)


class SandboxLabels:
    """The sandbox's carrier.

    ``POST /sandbox/labels`` buys carrier-format numbers (one per parcel), each with its cost (``cost: {amount,
    currency_code}``).
    """

    name = "sandbox"

    def __init__(self, base_url: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        """Talk to the sandbox at ``base_url``; ``transport`` lets tests route to an in-process app."""
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport

    @classmethod
    def for_api_url(cls, api_url: str) -> SandboxLabels:
        """From the API root (``.../api/v3``) of a sandbox."""
        root = api_url.rstrip("/")
        if root.endswith("/api/v3"):
            root = root[: -len("/api/v3")]
        return cls(root)

    def numbers(self, parcels: Sequence[PlannedParcel]) -> Mapping[str, str | Label]:
        """Buy one label per parcel from the sandbox, carrier by carrier, with its cost."""
        out: dict[str, str | Label] = {}
        by_carrier: dict[str, list[PlannedParcel]] = {}
        for parcel in parcels:
            by_carrier.setdefault(parcel.decision.carrier, []).append(parcel)
        with httpx.Client(timeout=self._timeout, transport=self._transport) as http:
            for carrier, group in by_carrier.items():
                lead = {p.order_ids[0]: p for p in group}
                response = http.post(
                    f"{self.base_url}/sandbox/labels", json={"order_ids": list(lead), "carrier": carrier}
                )
                if response.status_code != 200:
                    raise LabelError(
                        f"sandbox labels for {carrier}: HTTP {response.status_code}: {response.text[:200]}"
                    )
                body = response.json()
                labels = body.get("data", body) if isinstance(body, dict) else body
                if isinstance(labels, dict):
                    labels = labels.get("labels", [])
                for label in labels or []:
                    target = lead.get(str(label.get("order_id")))
                    if target is not None and label.get("tracking_number"):
                        cost = label.get("cost") if isinstance(label.get("cost"), dict) else {}
                        amount, currency = parse_cost(
                            cost.get("amount"), cost.get("currency_code"), f"sandbox label for {target.order_ids[0]}"
                        )
                        out[target.parcel_id] = Label(str(label["tracking_number"]), amount, currency)
        return out


def assign_numbers(
    parcels: Sequence[PlannedParcel], provider: LabelProvider, *, require_all: bool = True
) -> dict[str, str]:
    """Ask ``provider`` for numbers, check each, and set them on the parcels.

    Returns ``order_id -> reason`` for orders left without a (valid) number; with ``require_all``
    any such order raises :class:`LabelError` instead. Two parcels may never share a number.
    """
    numbers = provider.numbers(parcels)
    problems: dict[str, str] = {}
    seen: dict[str, str] = {}
    for parcel in parcels:
        given = numbers.get(parcel.parcel_id)
        try:
            if given is None:
                raise LabelError(f"no tracking number from the {provider.name} label provider")
            label = _label(given)
            cost, currency = parse_cost(label.cost, label.currency, f"label of parcel {parcel.parcel_id[:8]}")
            number = check_tracking_number(label.tracking_number, parcel.decision.carrier)
            other = seen.get(number.upper())
            if other is not None:
                raise LabelError(f"tracking number {number} is already used by another parcel in this plan")
            seen[number.upper()] = parcel.parcel_id
            parcel.tracking_number = number
            parcel.label_cost, parcel.label_cost_currency = cost, currency
        except LabelError as exc:
            parcel.tracking_number = None
            parcel.label_cost = parcel.label_cost_currency = None
            for order_id in parcel.order_ids:
                problems[order_id] = str(exc)
    if problems and require_all:
        shown = "; ".join(f"{k}: {v}" for k, v in list(problems.items())[:5])
        raise LabelError(f"{len(problems)} orders have no valid tracking number: {shown}")
    return problems


def record_label_costs(engine: Engine, store: str, parcels: Sequence[PlannedParcel]) -> int:
    """Record each labelled parcel's reported cost on its saved shipment.

    Once per parcel, on the row of its first order (by order_id) that was saved, so summing ``label_cost`` by carrier
    counts each label once. A row that already has a cost keeps it. Returns the rows updated.
    """
    from wishflow.warehouse.shipping_schema import shipments

    s = shipments.c
    updated = 0
    with engine.begin() as conn:
        for parcel in parcels:
            if parcel.label_cost is None or not parcel.tracking_number:
                continue
            first = (
                select(func.min(s.order_id)).where(s.store == store, s.parcel_id == parcel.parcel_id).scalar_subquery()
            )
            result = conn.execute(
                update(shipments)
                .where(
                    and_(
                        s.store == store,
                        s.parcel_id == parcel.parcel_id,
                        s.order_id == first,
                        s.label_cost.is_(None),
                    )
                )
                .values(label_cost=parcel.label_cost, label_cost_currency=parcel.label_cost_currency)
            )
            updated += result.rowcount or 0
    return updated


NO_LABEL_SOURCE_HINT = (
    "set label_provider: table and label_table_path in the shipping policy (WISHFLOW_SHIPPING_POLICY or "
    "--policy-block), or give the numbers: `wishflow ship run --tracking-file FILE.csv` or "
    "`--order ID --carrier C --tracking ID=NUMBER` (see docs/going-live.md)"
)


def choose_label_source(kind: str | None, table_path: str | None, api_url: str) -> LabelProvider:
    """The label provider a shipping policy names, for the API root ``api_url``.

    ``table`` needs a ``table_path``. The sandbox's carrier serves only the embedded or sandbox
    profile: for a live account an empty or ``sandbox`` setting is a :class:`ConfigError`, raised
    before anything is sent (there is no silent fallback to the sandbox, DESIGN.md invariant 10).
    """
    if kind == "table":
        if not table_path:
            raise ConfigError("label_provider is 'table' but label_table_path is empty", hint=NO_LABEL_SOURCE_HINT)
        return TableLabels.from_csv(table_path)
    if kind not in (None, "", "sandbox"):
        raise ConfigError(f"label_provider {kind!r} is unknown", hint="use 'table' (or 'sandbox' with the sandbox)")
    if profile_for(api_url).uses_sandbox:
        return SandboxLabels.for_api_url(api_url)
    if kind == "sandbox":
        raise ConfigError(
            f"label_provider 'sandbox' buys numbers from the sandbox, but the Wish API at {api_url} is live",
            hint=NO_LABEL_SOURCE_HINT + "; for a sandbox set WISHFLOW_PROFILE=sandbox",
        )
    raise ConfigError(f"no label source is configured for the live Wish API at {api_url}", hint=NO_LABEL_SOURCE_HINT)
