"""Bad input corpus through the whole cycle: the thirty-one kinds of invalid orders of
``tests/validation/bad_orders.py`` that Wish's API can carry, plus injection-looking text, unicode
in every field and huge strings, plus sixteen kinds of malformed payloads (records Wish could send
that are not orders: unknown or missing state, bad ids, bad timestamps, not even objects). Each one
ends quarantined with its rule or in ``rejected_records`` with its reason, none is shipped, the run
completes, and the good orders beside them are all shipped.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from harness import STORE, point_flows_at, record_figure, sandbox_writes, start_sandbox

pytestmark = pytest.mark.postgres

VALIDATION = Path(__file__).resolve().parents[1] / "validation"
INJECTION = "'); DROP TABLE orders;--"
#: Expected outcomes of orders the warehouse cannot hold as they are: rejected with this in the reason.
TOO_LONG = "rejected: characters, longer than"
OUT_OF_RANGE = "rejected: is out of range"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validation_corpus() -> tuple[dict[str, Any], Any, Any, set[str]]:
    """``BAD_KINDS``, ``good_order``, ``wish_partial`` and ``NOT_EXPRESSIBLE`` from tests/validation
    (their modules import ``conftest``/``bad_orders`` by bare name, so they are loaded by path).
    """
    saved = {k: sys.modules.get(k) for k in ("conftest", "bad_orders")}
    try:
        sys.modules["conftest"] = _load("validation_conftest", VALIDATION / "conftest.py")
        sys.modules["bad_orders"] = bad = _load("validation_bad_orders", VALIDATION / "bad_orders.py")
        sandbox_mod = _load("validation_sandbox_bad_orders", VALIDATION / "test_sandbox_bad_orders.py")
        good_order = sys.modules["conftest"].good_order
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module
    return bad.BAD_KINDS, good_order, sandbox_mod.wish_partial, sandbox_mod.NOT_EXPRESSIBLE


def extra_bad_kinds(good_order: Any, wish_partial: Any) -> dict[str, tuple[dict[str, Any], str]]:
    """Hostile-looking orders: kind -> (Wish partial, the rule that must quarantine it)."""

    def partial(**changes: Any) -> dict[str, Any]:
        return wish_partial(good_order("x", **changes))

    unicode = partial(
        recipient_name="Zoë Ñandú 🚀 王小明",
        street_address1="Straße der Pariser Kommune 😀 ١٢٣",
        city="Αθήνα",
        province="東京都",
        zipcode="１２３４５",
        country_code="ÜS",
        sku="SKU-ß-✓-𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        phone_number="+1 ☎ 555 0100",
    )
    huge = partial(recipient_name="N" * 100_000, street_address1="S" * 100_000, city="C" * 50_000, quantity=0)
    return {
        "injection_in_name_and_country": (partial(recipient_name=INJECTION, country_code=INJECTION), TOO_LONG),
        "injection_in_name_zero_quantity": (partial(recipient_name=INJECTION, quantity=0), "quantity_at_least_one"),
        "injection_in_zipcode": (partial(zipcode=INJECTION), "zipcode_format"),
        "injection_in_sku_zero_quantity": (partial(sku=INJECTION + " OR 1=1", quantity=0), "quantity_at_least_one"),
        "unicode_in_every_field": (unicode, "country_code_valid"),
        "huge_strings": (huge, "quantity_at_least_one"),
        "huge_zipcode": (partial(zipcode="9" * 5000), TOO_LONG),
        "huge_sku": (partial(sku="K" * 10_000), TOO_LONG),
        "absurd_quantity": (partial(quantity=10**12), OUT_OF_RANGE),
        "absurd_price": (partial(product_price=10**16), OUT_OF_RANGE),
        "negative_absurd_price": (partial(product_price=-(10**9)), "product_price_valid"),
    }


def _replace(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(doc)
    for key, value in changes.items():
        if value is dataclasses.MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


#: kind -> (how Wish's record is broken, a word the rejection reason must contain)
MALFORMED: dict[str, tuple[Any, str]] = {
    "unknown_state": (lambda d: _replace(d, state="TELEPORTED"), "state"),
    "lowercase_state": (lambda d: _replace(d, state="approved"), "state"),
    "missing_state": (lambda d: _replace(d, state=dataclasses.MISSING), "state"),
    "state_is_a_number": (lambda d: _replace(d, state=42), "state"),
    "updated_at_not_a_date": (lambda d: _replace(d, updated_at="yesterday"), "updated_at"),
    "updated_at_missing": (lambda d: _replace(d, updated_at=dataclasses.MISSING), "updated_at"),
    "updated_at_without_zone": (lambda d: _replace(d, updated_at="2026-01-01T00:00:00"), "updated_at"),
    "updated_at_is_an_object": (lambda d: _replace(d, updated_at={"$date": 1}), "updated_at"),
    "released_at_garbage": (lambda d: _replace(d, released_at="soon"), "released_at"),
    "id_too_long": (lambda d: _replace(d, id="f" * 65), "id"),
    "id_empty": (lambda d: _replace(d, id=""), "id"),
    "id_is_a_number": (lambda d: _replace(d, id=12345), "id"),
    "id_missing": (lambda d: _replace(d, id=dataclasses.MISSING), "id"),
    "record_is_a_string": (lambda _d: "this is not an order", "str"),
    "record_is_null": (lambda _d: None, "NoneType"),
    "record_is_a_list": (lambda d: [d], "list"),
}


def corrupt(running: Any, order_id: str, breaker: Any) -> None:
    """Make the sandbox serve a broken record for ``order_id`` (it stays indexed under its state and
    time, so listing returns it like any order).
    """
    sb = running.sandbox
    with sb.lock:
        rec = sb._orders[order_id]
        sb._orders[order_id] = dataclasses.replace(rec, raw=orjson.dumps(breaker(orjson.loads(rec.raw))))


def test_bad_inputs_are_quarantined_or_rejected_and_never_shipped(
    monkeypatch: pytest.MonkeyPatch, fresh_pg: str, prefect_harness
) -> None:
    from flows.order_cycle import order_cycle
    from wishflow.validation import quarantined_orders

    bad_kinds, good_order, wish_partial, not_expressible = validation_corpus()
    kinds = {
        k: (wish_partial(good_order(k, **changes)), rule)
        for k, (changes, rule) in bad_kinds.items()
        if k not in not_expressible
    }
    kinds.update(extra_bad_kinds(good_order, wish_partial))
    assert len(kinds) + len(MALFORMED) >= 30 + 16

    running = start_sandbox(5, 0)
    try:
        base = running.base_url
        partials = [p for p, _ in kinds.values()]
        partials += [wish_partial(good_order(f"good-{i}", sku=f"GOOD-{i}")) for i in range(6)]
        partials += [wish_partial(good_order(f"broken-{k}")) for k in MALFORMED]
        response = httpx.post(f"{base}/sandbox/orders", json={"orders": partials}, timeout=60)
        response.raise_for_status()
        body = response.json()
        ids = body.get("data", body)["ids"]
        bad_ids = dict(zip(ids[: len(kinds)], kinds, strict=True))
        good_ids = ids[len(kinds) : len(kinds) + 6]
        broken_ids = dict(zip(ids[len(kinds) + 6 :], MALFORMED, strict=True))
        for oid, kind in broken_ids.items():
            corrupt(running, oid, MALFORMED[kind][0])

        point_flows_at(monkeypatch, running, fresh_pg)
        state = order_cycle(return_state=True)
        assert state.is_completed(), state.message

        engine = sa.create_engine(fresh_pg)
        reasons = {r["order_id"]: r["reasons"] for r in quarantined_orders(engine, STORE)}
        with engine.connect() as conn:
            rejected = conn.execute(
                sa.text("SELECT record_key, order_id, reason, raw FROM rejected_records WHERE store = :s"), {"s": STORE}
            ).all()
            tables = set(sa.inspect(conn).get_table_names())
            stored_names = dict(conn.execute(sa.text("SELECT order_id, recipient_name FROM orders")).all())
        engine.dispose()

        # every invalid order is quarantined for its rule, or rejected when the warehouse cannot hold it
        rejected_reason = {r.order_id: r.reason for r in rejected if r.order_id}
        wrong = {}
        for oid, name in bad_ids.items():
            expected = kinds[name][1]
            if expected.startswith("rejected: "):
                if expected.removeprefix("rejected: ") not in (rejected_reason.get(oid) or ""):
                    wrong[name] = (expected, rejected_reason.get(oid), reasons.get(oid))
            elif expected not in (reasons.get(oid) or ""):
                wrong[name] = (expected, reasons.get(oid), rejected_reason.get(oid))
        assert not wrong, wrong
        assert INJECTION in stored_names.values()
        assert {"orders", "shipments", "sync_state"} <= tables
        # every malformed record is rejected with a reason naming what is wrong
        too_big = [k for k, (_, expected) in kinds.items() if expected.startswith("rejected: ")]
        assert len(rejected) == len(MALFORMED) + len(too_big), [r.reason for r in rejected]
        by_raw = {
            r.raw if isinstance(r.raw, str) else orjson.dumps(r.raw).decode(): r.reason
            for r in rejected
            if r.order_id not in bad_ids
        }
        for kind in broken_ids.values():
            word = MALFORMED[kind][1]
            matches = [reason for raw, reason in by_raw.items() if f'"SKU-broken-{kind}"' in raw]
            if kind in ("record_is_a_string", "record_is_null"):
                matches = [reason for reason in by_raw.values() if word in reason]
            assert matches, (kind, matches)
            assert all(word in m for m in matches), (kind, matches)
        # nothing bad was shipped; every good order was
        writes = sandbox_writes(running)
        shipped = {
            oid
            for oid, ws in writes.items()
            if any(w["endpoint"] == "tracking" and w["outcome"] == "accepted" for w in ws)
        }
        assert not shipped & (set(bad_ids) | set(broken_ids))
        assert set(good_ids) <= shipped
        record_figure(
            "bad_inputs",
            quarantined_kinds=sorted(k for k in kinds if k not in too_big),
            rejected_kinds=sorted([*MALFORMED, *too_big]),
            shipped_bad=len(shipped & (set(bad_ids) | set(broken_ids))),
            good_shipped=len(set(good_ids) & shipped),
            good=len(good_ids),
        )
    finally:
        running.stop()


def test_a_value_the_warehouse_cannot_hold_is_rejected_and_the_batch_loads(warehouse_url: str) -> None:
    """One order with a too-long code or an out-of-range number never fails its batch (PostgreSQL
    refuses such values; before the fix the whole page, and every later pull, failed).
    """
    from wishflow.orders.parse import parse_orders
    from wishflow.sandbox import Sandbox, SandboxConfig
    from wishflow.warehouse.engine import make_engine
    from wishflow.warehouse.orders_writer import load_orders

    payloads = Sandbox(SandboxConfig(seed=3, orders=5, bad_order_share=0)).list_orders(limit=5)
    payloads[0]["full_address"]["shipping_detail"]["country_code"] = INJECTION
    payloads[1]["order_payment"]["general_payment_details"]["product_quantity"] = 10**12
    parsed, bad = parse_orders(payloads)
    assert not bad
    engine = make_engine(warehouse_url)
    result = load_orders(engine, STORE, parsed, run_id="bounds")
    with engine.connect() as conn:
        held = set(conn.execute(sa.text("SELECT order_id FROM orders")).scalars())
        rejected = dict(conn.execute(sa.text("SELECT record_key, reason FROM rejected_records")).all())
    engine.dispose()
    assert held == {p["id"] for p in payloads[2:]}
    assert "country_code is 24 characters" in rejected[payloads[0]["id"]]
    assert "quantity" in rejected[payloads[1]["id"]]
    assert "out of range" in rejected[payloads[1]["id"]]
    assert result.quarantined == 2
    assert result.new == 3
