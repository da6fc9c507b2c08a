"""``wishflow doctor [--store S]``: is this setup ready to go live? One line per check.

``ok ...`` or ``FAIL ... — what to do`` (exit status 1 when any check fails); ``warn`` lines are for
what only some setups need (a Prefect server, a notification block) and never fail the command.
The checks that need no Prefect live in :mod:`wishflow.doctor`; the Prefect server checks are here.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from wishflow.doctor import Check, any_failed, guarded, ok

BLOCK_TYPES = ("wish-credentials", "wishflow-warehouse", "wishflow-shipping-policy")
WORK_POOL = "wishflow-process"


def _wish_checks(args: argparse.Namespace, warehouse_url: str | None) -> list[Check]:
    from blocks.shipping import resolve_shipping_policy
    from blocks.wish import build_wish_client, resolve_wish_settings
    from wishflow.doctor import check_api, check_carriers, check_label_source, check_skus

    checks: list[Check] = []
    settings_box: list[Any] = []
    checks += guarded("Wish settings", lambda: _settings(args, resolve_wish_settings, settings_box))
    if not settings_box:
        return checks
    settings = settings_box[0]
    client = build_wish_client(args.wish_block)
    try:
        api = guarded("API root", lambda: check_api(settings, client))
        checks += api
        policy_box: list[Any] = []
        checks += guarded("shipping policy", lambda: _policy(args, resolve_shipping_policy, policy_box))
        if policy_box:
            block = policy_box[0]
            checks += guarded(
                "label source",
                lambda: check_label_source(lambda: block.label_source(settings.api_base_url), settings.api_base_url),
            )
            if warehouse_url is not None:
                from wishflow.warehouse.engine import make_engine

                engine = make_engine(warehouse_url)
                try:
                    skus = block.skus()
                    if all(c.status == "ok" for c in api):
                        checks += guarded(
                            "carriers", lambda: check_carriers(engine, args.store, block.policy(), skus, client)
                        )
                    checks += guarded("SKU data", lambda: check_skus(engine, args.store, skus))
                finally:
                    engine.dispose()
    finally:
        client.close()
    return checks


def _settings(args: argparse.Namespace, resolve: Any, box: list[Any]) -> Check:
    settings = resolve(args.wish_block)
    box.append(settings)
    source = f"block {args.wish_block}" if args.wish_block else "environment"
    return ok("Wish settings", f"store {settings.store}, API root {settings.api_base_url} (from the {source})")


def _policy(args: argparse.Namespace, resolve: Any, box: list[Any]) -> Check:
    from blocks.shipping import POLICY_ENV

    block = resolve(args.policy_block)
    block.policy()
    box.append(block)
    if args.policy_block:
        where = f"block {args.policy_block}"
    elif os.environ.get(POLICY_ENV):
        where = f"{POLICY_ENV}={os.environ[POLICY_ENV]}"
    else:
        where = "the built-in default (set WISHFLOW_SHIPPING_POLICY to a YAML file to change it)"
    return ok("shipping policy", where)


def _prefect_checks() -> list[Check]:
    """Warn-only: a Prefect server, the block types, the work pool, the deployments, a notification block."""
    if not os.environ.get("PREFECT_API_URL"):
        return [
            Check(
                "warn",
                "Prefect server",
                "PREFECT_API_URL is not set (flows run on a temporary server per command)",
                "for schedules and workers, start a server and set PREFECT_API_URL (docs/going-live.md)",
            )
        ]
    from prefect.client.orchestration import get_client

    checks: list[Check] = []
    try:
        with get_client(sync_client=True) as client:
            client.hello()
            checks.append(ok("Prefect server", os.environ["PREFECT_API_URL"]))
            missing = []
            for slug in BLOCK_TYPES:
                try:
                    client.read_block_type_by_slug(slug)
                except Exception:  # noqa: BLE001 - not found
                    missing.append(slug)
            checks.append(
                Check(
                    "warn",
                    "block types",
                    f"not registered: {', '.join(missing)}",
                    "run `prefect block register -m blocks`",
                )
                if missing
                else ok("block types", "registered")
            )
            try:
                client.read_work_pool(WORK_POOL)
                checks.append(ok("work pool", WORK_POOL))
            except Exception:  # noqa: BLE001 - not found
                checks.append(
                    Check(
                        "warn",
                        "work pool",
                        f"{WORK_POOL} is missing",
                        f"run `prefect work-pool create {WORK_POOL} --type process`",
                    )
                )
            deployments = client.read_deployments()
            checks.append(
                ok("deployments", f"{len(deployments)} deployed")
                if deployments
                else Check("warn", "deployments", "none deployed", "run `wishflow deploy` in the checkout")
            )
            checks.append(_ship_form_check(deployments))
            checks.append(_notifications_check(client))
    except Exception as exc:  # noqa: BLE001 - the server cannot be asked: say so, warn only
        checks.append(
            Check(
                "warn",
                "Prefect server",
                f"{os.environ['PREFECT_API_URL']} does not answer ({type(exc).__name__})",
                "start it (`prefect server start`) or fix PREFECT_API_URL",
            )
        )
    checks.append(_prefect_auth_check(os.environ["PREFECT_API_URL"]))
    return checks


def _ship_form_check(deployments: list[Any]) -> Check:
    """The ship deployment's run form offers Wish's carriers and the presets as lists (wishflow deploy)."""
    from wishflow.shipping.choices import schema_choices
    from wishflow_cli.deploy_cmd import SHIP_DEPLOYMENT

    name = SHIP_DEPLOYMENT.split("/", 1)[1]
    ship = next((d for d in deployments if d.name == name), None)
    if ship is None:
        return Check("warn", "ship form", f"no {name} deployment", "run `wishflow deploy` in the checkout")
    carriers = schema_choices(ship.parameter_openapi_schema or {}, "carrier")
    if not carriers:
        return Check(
            "warn",
            "ship form",
            "carrier and package are free text (checked only when the run starts)",
            "run `wishflow deploy --choices-only` to offer Wish's carriers and the presets as lists",
        )
    return ok("ship form", f"carrier from {len(carriers)} carriers Wish accepts, package from the presets")


def _notifications_check(client: Any) -> Check:
    """The block the deployments name for their digests exists (``wishflow notify setup``)."""
    from blocks.notifications import DEFAULT_BLOCK_NAME

    named = [
        f"{b.block_type.slug}/{b.name}"
        for b in client.read_block_documents()
        if b.name == DEFAULT_BLOCK_NAME and b.block_type is not None
    ]
    if named:
        return ok("notifications", f"{named[0]} (digests and failed/crashed-run alerts)")
    return Check(
        "warn",
        "notifications",
        f"no notification block {DEFAULT_BLOCK_NAME!r}: the deployments' digests are skipped with a warning",
        "run `wishflow notify setup --webhook-url URL` (docs/going-live.md)",
    )


def _prefect_auth_check(api_url: str) -> Check:
    """Warn when the Prefect API answers anyone on a non-loopback address (docs/security.md).

    Its UI can ship orders and change addresses.
    """
    from wishflow.security_checks import prefect_api_unauthenticated_warning

    warning = prefect_api_unauthenticated_warning(api_url)
    if warning is None:
        return ok("Prefect API access", "loopback only, or authentication required")
    return Check(
        "warn",
        "Prefect API access",
        warning,
        "set PREFECT_SERVER_API_AUTH_STRING on the server and put it behind TLS (docs/security.md)",
    )


def run(args: argparse.Namespace) -> int:
    """``wishflow doctor``: one line per go-live check; exit status 1 when any failed."""
    if args.warehouse_url:
        os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
    from blocks.warehouse import resolve_warehouse_url
    from wishflow.doctor import check_project_dir, check_warehouse

    checks: list[Check] = []
    url_box: list[str] = []

    def warehouse() -> Check:
        url = resolve_warehouse_url(args.warehouse_block)
        result = check_warehouse(url)
        url_box.append(url)
        return result

    checks += guarded("warehouse", warehouse)
    checks += _wish_checks(args, url_box[0] if url_box else None)
    checks += _prefect_checks()
    checks.append(check_project_dir())
    for check in checks:
        print(check.line())
    failed = any_failed(checks)
    print("doctor: " + ("some checks failed" if failed else "ready"))
    return 1 if failed else 0


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow doctor``."""
    doctor = subparsers.add_parser("doctor", help="check that this setup is ready to go live (one line per check)")
    doctor.add_argument("--store", default="default")
    doctor.add_argument("--wish-block")
    doctor.add_argument("--warehouse-block")
    doctor.add_argument("--warehouse-url")
    doctor.add_argument("--policy-block")
    doctor.set_defaults(func=run)
