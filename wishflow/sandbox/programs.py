"""Data profiles: what the generated data holds beyond plain USD, merchant-shipped orders.

Wish's spec describes orders paid in other currencies (every ``Money`` has its own ``currency_code``;
a merchant's ``localized_currency`` is "the currency code for all your variations, products, and
payments"), orders in programs the merchant does not (FBW) or does differently (LTL) ship, Wish
Express orders, and penalties that Wish reverses (``reversed``, ``reversed_at``). A data profile
turns these on in the generated data, keeping the spec's shapes; STATUS.md ("Data profiles") says
where each behaviour comes from.

Select one with ``SandboxConfig.data_profile`` (a name in :data:`DATA_PROFILES`), or through a read
profile that names one (``ReadProfile.data``), so the pull, tracking and ticket scenarios that run
under every read profile also run over these data. Data are drawn when orders are created and
penalties are issued: set the profile before creating the orders it should shape.

The sandbox's parts call in here through small hooks (each typed by the part it needs); the LTL update
endpoint (``PUT /orders/{id}``) and the FBW fulfilment by Wish also live here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import orjson

from . import errors as E
from .data import make_tracking_number
from .errors import SandboxError
from .read_profiles import read_profile
from .timeutil import DAY_MS, HOUR_MS, fmt_ms, parse_ms

if TYPE_CHECKING:  # pragma: no cover
    from .carrier import CarrierPart
    from .clock import ClockAndEvents
    from .core import Sandbox
    from .model import OrderRec

FBW = "FULFILLED_BY_WISH"
FBS = "FULFILLED_BY_STORE"
LTL = "LESS_THAN_TRUCKLOAD"
WISH_EXPRESS = "WISH_EXPRESS"

#: Units of each currency per US dollar (fixed, illustrative rates: the sandbox prices its catalogue in
#: USD and converts; only the currency code and a plausible size matter to the pipeline).
RATES: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "CNY": Decimal("7.20"),
    "BRL": Decimal("5.00"),
    "MXN": Decimal("17.00"),
}

#: Wish fulfils an APPROVED FBW order this long after its release (an assumption: Wish publishes none).
FBW_FULFIL_MS = 24 * HOUR_MS
#: The spec: "Merchants will have a max of 90 calendar days since mark 'ship' to upload delivery
#: confirmation" (``UpdateOrder.delivered_at``).
LTL_CONFIRMATION_WINDOW_MS = 90 * DAY_MS
#: The spec's ``maxLength`` of ``tracking_url`` and ``delivery_receipt_file_url``.
LTL_URL_MAX = 300
LTL_FIELDS = ("tracking_url", "delivery_receipt_file_url", "delivered_at")


@dataclass(frozen=True)
class DataProfile:
    """What generated orders and penalties hold (see STATUS.md "Data profiles" for each source)."""

    name: str
    #: the merchant's currency (``localized_currency``): every Money of its orders and penalties
    currency: str = "USD"
    #: a second currency for this share of orders (a merchant that changed its currency setting, or
    #: two accounts' data in one store): per order, drawn from the seed
    second_currency: str | None = None
    second_currency_share: float = 0.0
    #: shares of generated orders in Wish's programs (on top of the config's Wish Express share)
    fbw_share: float = 0.0
    ltl_share: float = 0.0
    wish_express_share: float = 0.0
    #: share of penalties Wish reverses, and how long after their creation (hours, drawn per penalty)
    reversal_share: float = 0.0
    reversal_after_hours: tuple[int, int] = (12, 72)

    @property
    def plain(self) -> bool:
        """True when the profile changes nothing (the sandbox's behaviour before data profiles)."""
        return self == DataProfile(self.name)


#: Every data profile, by name. ``plain`` is the sandbox as before: USD, merchant-shipped orders.
DATA_PROFILES: dict[str, DataProfile] = {
    p.name: p
    for p in (
        DataProfile("plain"),
        DataProfile("merchant_cny", currency="CNY"),
        DataProfile("mixed_currencies", currency="USD", second_currency="EUR", second_currency_share=0.5),
        DataProfile("programs", fbw_share=0.15, ltl_share=0.1, wish_express_share=0.2),
        DataProfile("penalty_reversals", reversal_share=0.5),
        DataProfile(
            "everything",
            currency="CNY",
            second_currency="USD",
            second_currency_share=0.3,
            fbw_share=0.15,
            ltl_share=0.1,
            wish_express_share=0.2,
            reversal_share=0.5,
        ),
    )
}


def data_profile(name: str) -> DataProfile:
    """The data profile called ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    try:
        return DATA_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown data profile {name!r}; one of {', '.join(DATA_PROFILES)}") from None


def active(sandbox: ClockAndEvents) -> DataProfile:
    """The sandbox's data profile: the config's own, else the one its read profile names."""
    name = sandbox.config.data_profile or read_profile(sandbox.config.read_profile).data
    return data_profile(name)


# ---------------------------------------------------------------------------------------------
# generation hooks
# ---------------------------------------------------------------------------------------------


def draw_types(sandbox: ClockAndEvents, rng: random.Random, types: list[str]) -> list[str]:
    """Programs added to a drawn order (``Sandbox._draw_types``).

    Draws nothing under ``plain``, so the default data stay the same for a seed.
    """
    profile = active(sandbox)
    if profile.fbw_share <= 0 and profile.ltl_share <= 0 and profile.wish_express_share <= 0:
        return types
    roll = rng.random()
    out = list(types)
    if roll < profile.fbw_share:
        # FBW: Wish ships from its warehouse, so not FULFILLED_BY_STORE; often Wish Express too (the
        # spec's own example of a combination is "FULFILLED_BY_WISH & Wish Express")
        out = [t for t in out if t != FBS]
        out.append(FBW)
    elif roll < profile.fbw_share + profile.ltl_share:
        out.append(LTL)
    if WISH_EXPRESS not in out and rng.random() < profile.wish_express_share:
        out.insert(0, WISH_EXPRESS)
    return out


def order_currency(sandbox: ClockAndEvents, order_id: str | None) -> str:
    """The currency of a new order's money: the profile's, or its second one for a seeded share."""
    profile = active(sandbox)
    if profile.second_currency and profile.second_currency_share > 0 and order_id is not None:
        draw = random.Random(f"{sandbox.config.seed}:currency:{order_id}").random()
        if draw < profile.second_currency_share:
            return profile.second_currency
    return profile.currency


def convert(amount: Any, currency: str) -> float:
    """A USD amount in ``currency`` at the sandbox's fixed rates, rounded to cents."""
    value = (Decimal(str(amount)) * RATES[currency]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return float(value)


def _in_currency(node: Any, currency: str) -> Any:
    """A copy of ``node`` with every Money / Price (``{"amount", "currency_code"}``) in ``currency``."""
    if isinstance(node, dict):
        if "amount" in node and node.get("currency_code") == "USD" and isinstance(node["amount"], int | float):
            return {**node, "amount": convert(node["amount"], currency), "currency_code": currency}
        return {k: _in_currency(v, currency) for k, v in node.items()}
    if isinstance(node, list):
        return [_in_currency(v, currency) for v in node]
    return node


def decorate(sandbox: ClockAndEvents, order: dict[str, Any]) -> dict[str, Any]:
    """A generated order in the profile's currency (``Sandbox._build_order``).

    Shared sub-objects are copied, never changed in place.
    """
    profile = active(sandbox)
    if profile.currency == "USD" and not profile.second_currency:
        return order
    currency = order_currency(sandbox, order.get("id"))
    if currency == "USD":
        return order
    for key in ("order_payment", "refunds"):
        if key in order:
            order[key] = _in_currency(order[key], currency)
    return order


def finish(_sandbox: ClockAndEvents, doc: dict[str, Any]) -> None:
    """Make an order's program-dependent parts agree with its final ``fulfillment_order_types``.

    An admin template may replace the drawn programs; FBW orders must then carry ``fbw_information``
    and others must not. Takes the sandbox, unused, like the other generation hooks.
    """
    types = doc.get("fulfillment_order_types")
    if not isinstance(types, list):
        return
    warehouse = doc.get("warehouse_information")
    if FBW in types and isinstance(warehouse, dict) and "fbw_information" not in warehouse:
        currency = doc_currency(doc)
        doc["warehouse_information"] = {
            **warehouse,
            "warehouse_name": "Wish FBW warehouse",
            "fbw_information": {
                "fbw_warehouse_code": "FBW-US-1",
                "fbw_fees": [
                    {
                        "fee_name": "Order handling fee",
                        "fee_type": "ORDER_HANDLING_FEE",
                        "amount": {"amount": convert(1.5, currency), "currency_code": currency},
                    }
                ],
                "lot_information": [{"lot_id": f"LOT-{str(doc.get('id', ''))[-6:]}", "quantity": 1}],
            },
        }
    elif FBW not in types and isinstance(warehouse, dict) and "fbw_information" in warehouse:
        doc["warehouse_information"] = {k: v for k, v in warehouse.items() if k != "fbw_information"}


def doc_currency(doc: dict[str, Any]) -> str:
    """The currency of an order's money (its payment total's), USD when absent or not one we convert."""
    try:
        code = doc["order_payment"]["general_payment_details"]["payment_total"]["currency_code"]
    except (KeyError, TypeError):
        return "USD"
    return code if isinstance(code, str) and code in RATES else "USD"


def schedule_program_events(sandbox: ClockAndEvents, rec: OrderRec, now: int) -> None:
    """Schedule the events an order's programs bring.

    Wish fulfils an APPROVED FBW order a day after its release, or after the sandbox received it if
    later (an order created as released in the past).
    """
    if rec.state == "APPROVED" and FBW in rec.types:
        sandbox._schedule(max(rec.released_ms, now) + FBW_FULFIL_MS, "fbw_fulfilled", rec.id)


# ---------------------------------------------------------------------------------------------
# FBW: Wish ships, the merchant does not
# ---------------------------------------------------------------------------------------------


def check_merchant_may_ship(rec: OrderRec) -> None:
    """A merchant's tracking write on an FBW order is refused: Wish fulfils it from its warehouse."""
    if FBW in rec.types:
        raise SandboxError(E.FULFILLED_BY_WISH, "Order is fulfilled by Wish: the merchant does not ship it")


def fbw_fulfil(sandbox: CarrierPart, at: int, order_id: str) -> bool:
    """Wish ships an APPROVED FBW order from its warehouse; returns whether it did.

    The tracking is WishPost's and the order is MARK_SHIPPED, with no refund and no penalty to the
    merchant.
    """
    rec = sandbox._orders.get(order_id)
    if rec is None or rec.state != "APPROVED" or FBW not in rec.types:
        return False
    doc = orjson.loads(rec.raw)
    rng = random.Random(f"{sandbox.config.seed}:fbw:{order_id}")
    number = make_tracking_number("WishPost", rng)
    doc["state"] = "SHIPPED"
    doc["tracking_information"] = [
        {"tracking_number": number, "shipping_provider": {"name": "WishPost"}, "origin_country": "US"}
    ]
    sandbox._records(doc).append({"event_type": "MARK_SHIPPED", "event_time": fmt_ms(at)})
    sandbox._tracking_index.setdefault(number, set()).add(order_id)
    rec.ship_gen += 1
    sandbox._save(rec, doc, at)
    sandbox._plan_carrier(rec, doc, at, scanned=False)
    return True


# ---------------------------------------------------------------------------------------------
# LTL: PUT /orders/{id} (UpdateOrder)
# ---------------------------------------------------------------------------------------------


def _validate_ltl(rec: OrderRec, body: Any, now: int) -> int | None:
    """The spec's rules for ``UpdateOrder``; returns ``delivered_at`` in ms (None when not sent)."""
    if not isinstance(body, dict):
        raise SandboxError(E.INVALID_PARAMETER, "request body must be a JSON object")
    unknown = sorted(set(body) - set(LTL_FIELDS))
    if unknown:
        raise SandboxError(E.INVALID_PARAMETER, f"unknown field(s): {', '.join(unknown)}")
    for name in ("tracking_url", "delivery_receipt_file_url"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= LTL_URL_MAX):
            raise SandboxError(E.INVALID_PARAMETER, f"{name} must be a string of 1 to {LTL_URL_MAX} characters")
    if body.get("tracking_url") is None and body.get("delivery_receipt_file_url") is None:
        raise SandboxError(
            E.INVALID_PARAMETER, "tracking_url or delivery_receipt_file_url is required (one may replace the other)"
        )
    delivered_ms: int | None = None
    if body.get("delivered_at") is not None:
        raw = body["delivered_at"]
        try:
            if not isinstance(raw, str):
                raise ValueError(raw)
            delivered_ms = parse_ms(raw)
        except (TypeError, ValueError):
            raise SandboxError(E.INVALID_PARAMETER, "delivered_at must be an ISO 8601 date-time") from None
    if LTL not in rec.types:
        raise SandboxError(E.NOT_LTL_ORDER, "Only less-than-truckload (LTL) orders can be updated here")
    doc = orjson.loads(rec.raw)
    shipped = [
        parse_ms(r["event_time"])
        for r in doc.get("fulfillment_records") or ()
        if isinstance(r, dict) and r.get("event_type") == "MARK_SHIPPED" and isinstance(r.get("event_time"), str)
    ]
    if rec.state != "SHIPPED" or not shipped:
        raise SandboxError(E.LTL_NOT_SHIPPED, "Mark the LTL order shipped before confirming its delivery")
    marked = max(shipped)
    if now > marked + LTL_CONFIRMATION_WINDOW_MS:
        raise SandboxError(E.LTL_WINDOW_OVER, "Delivery confirmation is accepted up to 90 days after marking shipped")
    if delivered_ms is not None and not marked <= delivered_ms <= now:
        raise SandboxError(E.INVALID_PARAMETER, "delivered_at must lie between marking shipped and now")
    return delivered_ms


def ltl_update(sandbox: Sandbox, order_id: str, body: Any) -> bytes:
    """``PUT /orders/{id}``: an LTL order's delivery confirmation (synchronous, answers the order).

    ``delivered_at`` becomes the order's CONFIRMED_DELIVERED milestone (replacing one an earlier
    update set; the first carrier scan is implied); the links are kept in the writes log (the Order
    schema has no field for them).
    """
    with sandbox.lock:
        now, rec, delivered_ms = sandbox._accept_write(
            order_id, "ltl_update", body, lambda rec, now: _validate_ltl(rec, body, now)
        )
        if delivered_ms is not None:
            doc = orjson.loads(rec.raw)
            records = [
                r
                for r in sandbox._records(doc)
                if not (isinstance(r, dict) and r.get("event_type") == "CONFIRMED_DELIVERED")
            ]
            if not any(isinstance(r, dict) and r.get("event_type") == "CONFIRM_FULFILLED" for r in records):
                records.append({"event_type": "CONFIRM_FULFILLED", "event_time": fmt_ms(delivered_ms)})
            records.append({"event_type": "CONFIRMED_DELIVERED", "event_time": fmt_ms(delivered_ms)})
            doc["fulfillment_records"] = records
            for program in doc.get("special_programs") or ():
                if isinstance(program, dict) and program.get("status") == "PENDING":
                    program["status"] = "SUCCEED"
            sandbox._save(rec, doc, now)
        sandbox._log_outcome(order_id, "ltl_update", body, now)
        return rec.raw


# ---------------------------------------------------------------------------------------------
# penalties: currency and reversals
# ---------------------------------------------------------------------------------------------


def on_penalty(sandbox: ClockAndEvents, penalty_id: str, at: int) -> None:
    """Apply the data profile to a new penalty.

    Its amount is put in its order's currency (it was computed from the order's value), and Wish
    reverses it later for the profile's share (drawn from the seed and the penalty's id).
    """
    penalty = sandbox._penalties[penalty_id]
    rec = sandbox._orders.get(str(penalty.get("related_entity_id")))
    if rec is not None:
        currency = doc_currency(orjson.loads(rec.raw))
        penalty["penalty_amount"] = {**penalty["penalty_amount"], "currency_code": currency}
    profile = active(sandbox)
    if profile.reversal_share <= 0:
        return
    rng = random.Random(f"{sandbox.config.seed}:reversal:{penalty_id}")
    if rng.random() < profile.reversal_share:
        low, high = profile.reversal_after_hours
        sandbox._schedule(at + rng.randint(low, high) * HOUR_MS, "penalty_reversed", penalty_id)


def reverse_penalty(sandbox: ClockAndEvents, at: int, penalty_id: str) -> dict[str, Any]:
    """Wish reverses a penalty; returns the penalty as the API shows it.

    ``reversed`` becomes true and ``reversed_at`` is set, once; the amount stays, as the spec shows no
    other field change.
    """
    penalty = sandbox._penalties.get(penalty_id)
    if penalty is None:
        raise SandboxError(E.NOT_FOUND, f"Penalty {penalty_id} not found")
    if not penalty.get("reversed"):
        at = max(at, int(penalty["_created_ms"]))
        penalty["reversed"] = True
        penalty["reversed_at"] = fmt_ms(at)
        penalty["_reversed_ms"] = at
    return {k: v for k, v in penalty.items() if not k.startswith("_")}
