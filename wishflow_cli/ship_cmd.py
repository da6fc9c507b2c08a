"""``wishflow ship ...``: run the ship flows, see the outbox, load SKU tables, settle conflicts.

wishflow ship run [--order ID ...] [--tracking ID=NUMBER ...] [--carrier C] [--package P] [--dry-run]
wishflow ship run --tracking-file FILE.csv   numbers bought elsewhere: order_id,carrier,tracking_number
wishflow ship modify ORDER_ID NUMBER --carrier C
wishflow ship address ORDER_ID --field name=value ...
wishflow ship refund --order ID --reason R   refund orders exactly once (reason from the order's refund_reasons)
wishflow ship status                  outbox counts, open conflicts, writes pending at Wish (and overdue)
wishflow ship load-skus FILE.csv      SKU weights, dimensions and tags into the warehouse
wishflow ship check-policy FILE.yaml  parse a policy and print it back
wishflow ship resolve ORDER_ID NOTE   close a tracking conflict after a person checked it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _warehouse(args: argparse.Namespace) -> str:
    if getattr(args, "warehouse_url", None):
        os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
    from wishflow.config import warehouse_url_from_env

    return warehouse_url_from_env()


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"{what} must look like KEY=VALUE, not {item!r}")
        out[key.strip()] = value.strip()
    return out


def _print(result: Any) -> None:
    print(json.dumps(result, indent=2, default=str))


def _run_tracking_file(args: argparse.Namespace) -> int:
    """``ship run --tracking-file FILE.csv``: ship each good row with its own carrier and number.

    One flow run per carrier; bad rows are reported by line, and a second run sends nothing again.
    """
    from wishflow.errors import ConfigError
    from wishflow.shipping.choices import UnknownShipChoice
    from wishflow.shipping.explain import OrdersNotShipped
    from wishflow.shipping.policy import CarrierNotAccepted
    from wishflow.shipping.tracking_file import read_tracking_file

    if args.order or args.tracking or args.carrier or args.dry_run:
        raise ConfigError(
            "--tracking-file gives the orders, carriers and numbers itself",
            hint="leave out --order, --tracking, --carrier and --dry-run",
        )
    batch = read_tracking_file(args.tracking_file)
    bad = [p.describe() for p in batch.problems]
    done: list[str] = []
    shipped = 0
    from flows.ship_orders import ship_orders

    for carrier, numbers in batch.by_carrier().items():
        numbers = dict(numbers)
        while numbers:
            try:
                ship_orders(
                    store=args.store,
                    order_ids=list(numbers),
                    carrier=carrier,
                    tracking_numbers=numbers,
                    package=args.package,
                    follow_seconds=args.follow_seconds,
                    wish_block=args.wish_block,
                    warehouse_block=args.warehouse_block,
                    policy_block=args.policy_block,
                )
                reasons: dict[str, str] = {}
            except UnknownShipChoice:
                # Wish accepts this carrier for no order at all
                for oid in sorted(numbers, key=batch.line_of):
                    bad.append(f"line {batch.line_of(oid)} (order {oid}): Wish does not accept the carrier {carrier}")
                break
            except CarrierNotAccepted as exc:
                refused = {oid for problem in exc.problems for oid in problem.order_ids}
                for oid in sorted(refused & set(numbers), key=batch.line_of):
                    bad.append(f"line {batch.line_of(oid)} (order {oid}): Wish does not accept {carrier} for it")
                    numbers.pop(oid)
                continue
            except OrdersNotShipped as exc:
                # the run names each order it did not ship and why (explain.py)
                reasons = exc.reasons
            for oid in numbers:
                why = reasons.get(oid)
                if why is None:
                    shipped += 1
                elif "already" in why:
                    done.append(f"line {batch.line_of(oid)} (order {oid}): {why}")
                else:
                    bad.append(f"line {batch.line_of(oid)} (order {oid}): {why}")
            break
    for text in done:
        print(f"skipped {text}")
    for text in bad:
        print(f"BAD {text}")
    print(
        f"tracking file {args.tracking_file}: {len(batch.rows) + len(batch.problems)} rows, {shipped} shipped, "
        f"{len(done)} already shipped earlier, {len(bad)} bad"
    )
    return 1 if bad else 0


def _preflight(args: argparse.Namespace, *, labels: bool) -> None:
    """Configuration mistakes as one line before a flow starts.

    Warehouse, Wish settings, and (when the run buys labels) a label source that fits the profile (never
    the sandbox's for a live root).
    """
    from wishflow_cli.preflight import preflight

    preflight(warehouse=not args.warehouse_block, wish=not args.wish_block)
    if labels and not args.wish_block and not args.policy_block:
        from blocks.shipping import resolve_shipping_policy
        from wishflow.api.factory import settings_from_env_and_token_file

        resolve_shipping_policy(None).label_source(settings_from_env_and_token_file().api_base_url)


def _run(args: argparse.Namespace) -> int:
    _warehouse(args)
    if args.workers is not None:
        # a run setting of the ShippingPolicy block (not a flow parameter): the default it reads
        os.environ["WISHFLOW_SHIP_WORKERS"] = str(args.workers)
    _preflight(args, labels=not (args.tracking or args.tracking_file or args.dry_run))
    from wishflow_cli.run_cmd import explain_dry_run, ship_failed, shipping_console

    shipping_console()
    if args.tracking_file:
        return _run_tracking_file(args)
    from flows.ship_orders import ship_orders

    try:
        result = ship_orders(
            store=args.store,
            order_ids=args.order or [],
            carrier=args.carrier,
            tracking_numbers=_pairs(args.tracking, "--tracking"),
            package=args.package,
            dry_run=args.dry_run,
            follow_seconds=args.follow_seconds,
            max_batch_size=args.max_batch_size,
            wish_block=args.wish_block,
            warehouse_block=args.warehouse_block,
            policy_block=args.policy_block,
        )
    except Exception as exc:
        return ship_failed(exc)
    if args.dry_run:
        for row in result["plan"]["table"]:
            print(
                f"{row['order_id']}  {row['carrier']:<14} {row['service']:<10} {row['package']:<11} "
                f"{row['weight_g']:>6} g  batch {row['batch']}  parcel {row['parcel']}"
            )
        print(f"dry run: {result['plan']['orders']} orders, nothing sent")
        explain_dry_run(result["plan"], bool(args.order))
        return 0
    plan = result["plan"]
    print(
        f"store {args.store}: planned {plan.get('planned', 0)}, sent {result['sent']}, "
        f"confirmed {result['confirmed']}, processing {result['submitted']}, failed {result['failed']}, "
        f"conflicts {result['conflict']}"
    )
    for oid, why in result.get("conflicts", {}).items():
        print(f"CONFLICT {oid}: {why}")
    for oid, why in result.get("failures", {}).items():
        print(f"FAILED {oid}: {why}")
    return 1 if result.get("conflicts") else 0


def _modify(args: argparse.Namespace) -> int:
    _warehouse(args)
    from flows.ship_orders import modify_tracking

    _print(
        modify_tracking(
            order_id=args.order_id,
            tracking_number=args.tracking_number,
            carrier=args.carrier,
            store=args.store,
            origin_country=args.origin_country,
            follow_seconds=args.follow_seconds,
            wish_block=args.wish_block,
        )
    )
    return 0


def _address(args: argparse.Namespace) -> int:
    _warehouse(args)
    from flows.ship_orders import change_address

    _print(
        change_address(
            order_id=args.order_id,
            address=_pairs(args.field, "--field"),
            store=args.store,
            follow_seconds=args.follow_seconds,
            wish_block=args.wish_block,
        )
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from wishflow.shipping import outbox
    from wishflow.shipping.status import other_writes, overdue_writes, pending_count
    from wishflow.shipping.write_policy import WritePolicy, WritePolicyError
    from wishflow.warehouse.engine import make_engine

    try:
        policy = WritePolicy.from_env()
    except WritePolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from wishflow_cli.run_cmd import warehouse_problem

    url = _warehouse(args)
    problem = warehouse_problem(url, args.store, store_must_exist=False)  # a fresh warehouse has no writes yet
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    overdue = overdue_writes(engine, args.store, overdue=policy.overdue)
    status = {
        "outbox": outbox.counts_by_state(engine, args.store),
        **other_writes(engine, args.store),
        "conflicts": outbox.conflicts(engine, args.store),
        "pending_at_wish": pending_count(engine, args.store),
        "overdue_hours": policy.overdue.total_seconds() / 3600,
        "overdue": overdue,
    }
    if args.json:
        print(json.dumps(status, indent=2, default=_json_value))
        return 0
    _print_status(args.store, status)
    return 0


def _json_value(value: Any) -> str:
    """Times as ISO 8601 with their zone (the warehouse keeps UTC); anything else as text."""
    from datetime import UTC, datetime

    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def _print_status(store: str, status: dict[str, Any]) -> None:
    """``ship status`` as tables, like the other commands (times in UTC, labelled)."""
    from wishflow_cli.run_cmd import print_table

    kinds = (("shipments", "outbox"), ("address changes", "address_changes"), ("refunds", "refunds"))
    rows = [[label, state, n] for label, key in kinds for state, n in sorted(status[key].items())]
    print(f"store {store}: writes to Wish by state")
    print_table(["write", "state", "count"], rows or [["(none)", "", 0]])
    print(
        f"\npending at Wish: {status['pending_at_wish']} "
        f"({len(status['overdue'])} overdue, i.e. pending longer than {status['overdue_hours']:g} h)"
    )
    if status["conflicts"]:
        print("\nopen tracking conflicts (nothing was overwritten; resolve with: wishflow ship resolve ORDER_ID):")
        print_table(
            ["order_id", "our tracking", "tracking at Wish", "carrier", "since", "why"],
            [
                [c["order_id"], c["tracking_number"], c["found_tracking_number"], c["carrier"], c["finished_at"]]
                + [c["last_error"]]
                for c in status["conflicts"]
            ],
        )
    if status["overdue"]:
        print("\noverdue writes (check each order in Wish):")
        print_table(
            ["order_id", "write", "tracking", "sent", "pending h", "state", "Wish shows"],
            [
                [r["order_id"], r["kind"], r["tracking_number"], r["sent_at"], r["pending_hours"], r["state"]]
                + [r["wish_processing_status"] or "nothing"]
                for r in status["overdue"]
            ],
        )


def _refund(args: argparse.Namespace) -> int:
    """``ship refund --order ID [--order ID ...] --reason R``: exactly once, through ``refund_orders``.

    Without ``--reason`` it lists the reasons the first order offers now.
    """
    _warehouse(args)
    if not args.reason:
        from blocks.wish import build_wish_client

        with build_wish_client(args.wish_block) as client:
            reasons = client.refund_reasons(args.order[0])
        print(f"refund reasons for {args.order[0]} now: {', '.join(reasons) or 'none (not refundable)'}")
        return 2
    from flows.refund_orders import refund_orders

    result = refund_orders(
        order_ids=args.order,
        reason=args.reason,
        note=args.note,
        store=args.store,
        follow_seconds=args.follow_seconds,
        wish_block=args.wish_block,
        warehouse_block=args.warehouse_block,
    )
    for order_id, r in result["results"].items():
        print(f"{r['state'].upper()} {order_id}: {r['reason']} ({r['detail']})")
    for order_id, why in result["refused"].items():
        print(f"error: {order_id}: {why}")
    return 2 if result["refused"] else 0


def _load_skus(args: argparse.Namespace) -> int:
    from wishflow.shipping import SkuTable
    from wishflow.warehouse.engine import make_engine

    table = SkuTable.from_csv(args.csv)
    count = table.save(make_engine(_warehouse(args)), args.store)
    print(f"{count} SKUs loaded for store {args.store}")
    return 0


def _check_policy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wishflow.shipping import ShippingPolicy

    print(ShippingPolicy.from_yaml(Path(args.yaml)).to_yaml())
    return 0


def _resolve(args: argparse.Namespace) -> int:
    from wishflow.shipping import outbox
    from wishflow.warehouse.engine import make_engine

    count = outbox.resolve_conflict(make_engine(_warehouse(args)), args.store, args.order_id, args.note)
    print(f"{count} conflict(s) closed for order {args.order_id}")
    return 0 if count else 1


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow ship`` and its subcommands."""
    ship = subparsers.add_parser("ship", help="ship orders (exactly once), modify tracking, change addresses")
    sub = ship.add_subparsers(dest="ship_command", required=True)

    def common(p: argparse.ArgumentParser, flow: bool = True) -> None:
        p.add_argument("--store", default="default", help="store name, as recorded in the warehouse (default: default)")
        p.add_argument("--warehouse-url", help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL or the SQLite file)")
        if flow:
            p.add_argument("--wish-block", help="WishCredentials block name (else the environment)")
            p.add_argument("--warehouse-block", help="Warehouse block name (else the environment)")
            p.add_argument(
                "--follow-seconds",
                type=float,
                default=30.0,
                help="how long to follow Wish's processing before leaving it to later (default: 30)",
            )

    run = sub.add_parser("run", help="ship ready orders (all, or --order ...)")
    common(run)
    run.add_argument("--order", action="append", help="an order id (repeat); default: every ready order")
    run.add_argument("--tracking", action="append", help="ORDER_ID=NUMBER for a single shipment (repeat)")
    run.add_argument(
        "--tracking-file",
        help="CSV with the header order_id,carrier,tracking_number: ship each row with its number (bad rows reported)",
    )
    run.add_argument(
        "--carrier", help="override the policy's carrier (one Wish accepts; a wrong name lists the accepted ones)"
    )
    run.add_argument(
        "--package",
        help="override the policy's package preset (envelope, small_box, medium_box, large_box or the policy's own)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the plan; send nothing")
    run.add_argument("--max-batch-size", type=int, help="orders per batch (default: the policy's)")
    run.add_argument(
        "--workers",
        type=int,
        help="concurrent calls to Wish (default: the policy's workers setting, 8, or WISHFLOW_SHIP_WORKERS)",
    )
    run.add_argument("--policy-block", help="ShippingPolicy block name (else WISHFLOW_SHIPPING_POLICY or the default)")
    run.set_defaults(func=_run)

    modify = sub.add_parser("modify", help="replace the tracking number of a shipped order")
    common(modify)
    modify.add_argument("order_id")
    modify.add_argument("tracking_number")
    modify.add_argument("--carrier", required=True)
    modify.add_argument("--origin-country")
    modify.set_defaults(func=_modify)

    address = sub.add_parser("address", help="change the shipping address of an order before it ships")
    common(address)
    address.add_argument("order_id")
    address.add_argument("--field", action="append", required=True, help="FIELD=VALUE (repeat)")
    address.set_defaults(func=_address)

    status = sub.add_parser(
        "status", help="writes to Wish by state, open conflicts and overdue writes (a table; --json for the data)"
    )
    common(status, flow=False)
    status.add_argument("--json", action="store_true", help="print the raw structure as JSON instead of tables")
    status.set_defaults(func=_status)

    refund = sub.add_parser("refund", help="refund orders the merchant cannot fulfil (exactly once)")
    common(refund)
    refund.add_argument("--order", action="append", required=True, help="an order id (repeat)")
    refund.add_argument("--reason", help="one of the order's refund_reasons (omit to list them)")
    refund.add_argument("--note", help="optional refund_reason_note")
    refund.set_defaults(func=_refund)

    skus = sub.add_parser("load-skus", help="load a SKU CSV (sku,weight_grams,length_mm,width_mm,height_mm,tags)")
    common(skus, flow=False)
    skus.add_argument("csv")
    skus.set_defaults(func=_load_skus)

    check = sub.add_parser("check-policy", help="parse a shipping policy YAML and print it back")
    check.add_argument("yaml")
    check.set_defaults(func=_check_policy)

    resolve = sub.add_parser("resolve", help="close a tracking conflict after checking it in Wish")
    common(resolve, flow=False)
    resolve.add_argument("order_id")
    resolve.add_argument("note")
    resolve.set_defaults(func=_resolve)
