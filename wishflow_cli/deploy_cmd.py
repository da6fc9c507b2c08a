"""``wishflow deploy``: register prefect.yaml's deployments and give the ship form its choice lists.

wishflow deploy [--choices-only] [--wish-block NAME] [--policy-block NAME]

1. ``prefect --no-prompt deploy --all`` in the project directory (the deployments, their schedules,
   triggers and default parameters), on the server named by ``PREFECT_API_URL``;
2. the ship deployment's run form then offers the carrier and the package as dropdowns: the
   carriers Wish accepts for the account (``GET /orders/shipping_carriers``, the policy's own first)
   and the policy's package presets are written into the deployment's parameter schema as ``enum``.

``prefect deploy`` regenerates the schema from the flow's signature (free text again), which is why
this command does both. ``--choices-only`` refreshes the lists alone: after changing the shipping
policy (new presets or rules) or when Wish's list for the account changes. A carrier typed in by other
means (``prefect deployment run``, the CLI) is still checked at run start against Wish's current list.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
#: the deployment whose run form gets the choice lists
SHIP_DEPLOYMENT = "ship_orders/ship-orders"


@dataclass(frozen=True)
class ShipFormChoices:
    """What ``wishflow deploy`` wrote into the ship form: the deployment and each dropdown's values."""

    deployment: str
    carriers: list[str]
    packages: list[str]
    policy_carriers: list[str]


def _require_server() -> str:
    from prefect.settings import get_current_settings

    from wishflow.errors import ConfigError

    url = get_current_settings().api.url
    if not url:
        raise ConfigError(
            "wishflow deploy registers deployments on a Prefect server, and PREFECT_API_URL is not set",
            hint="start one (`prefect server start`) and set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api",
        )
    return str(url)


def write_ship_form_choices(
    deployment_name: str = SHIP_DEPLOYMENT, wish_block: str | None = None, policy_block: str | None = None
) -> ShipFormChoices:
    """Write the carrier and package lists into the ship deployment's parameter schema.

    The Wish account and the policy are the ones given, else the deployment's own default parameters.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    from blocks.shipping import resolve_shipping_policy
    from blocks.wish import build_wish_client
    from wishflow.errors import ConfigError
    from wishflow.shipping.choices import carrier_choices, package_choices, schema_with_choices

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(deployment_name)
        except Exception as exc:  # ObjectNotFound: not deployed yet
            raise ConfigError(
                f"no deployment {deployment_name!r} on the Prefect server",
                hint="run `wishflow deploy` (without --choices-only) in the project directory",
            ) from exc
        defaults = deployment.parameters or {}
        policy = resolve_shipping_policy(policy_block or defaults.get("policy_block")).policy()
        with build_wish_client(wish_block or defaults.get("wish_block")) as wish:
            accepted = wish.shipping_carriers("GENERAL")
        carriers = carrier_choices(accepted, policy)
        packages = package_choices(policy)
        schema = schema_with_choices(
            deployment.parameter_openapi_schema or {}, {"carrier": carriers, "package": packages}
        )
        client.update_deployment(deployment.id, DeploymentUpdate(parameter_openapi_schema=schema))
    policy_carriers = [c for c in carriers if c.lower() in {p.lower() for p in policy.carriers()}]
    return ShipFormChoices(deployment_name, carriers, packages, policy_carriers)


def _deploy(args: argparse.Namespace) -> int:
    api_url = _require_server()
    if not args.choices_only:
        print(f"registering prefect.yaml's deployments on {api_url} (prefect deploy --all)...", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
            cwd=PROJECT_DIR,
            capture_output=not args.verbose,
            text=True,
        )
        if done.returncode != 0:
            if not args.verbose:
                sys.stderr.write((done.stdout or "")[-4000:] + (done.stderr or "")[-4000:])
            print(f"error: prefect deploy --all failed (exit {done.returncode})", file=sys.stderr)
            return 1
        print("deployments registered")
    choices = write_ship_form_choices(args.deployment, args.wish_block, args.policy_block)
    shown = ", ".join(choices.carriers[:8]) + (", ..." if len(choices.carriers) > 8 else "")
    print(f"ship form ({choices.deployment}): carrier from {len(choices.carriers)} carriers Wish accepts ({shown})")
    print(f"ship form ({choices.deployment}): package from the policy's presets ({', '.join(choices.packages)})")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``wishflow deploy`` (its parser imports no Prefect: tests/cli/test_cli_startup.py)."""
    deploy = subparsers.add_parser(
        "deploy",
        help="register prefect.yaml's deployments (prefect deploy --all) and fill the ship form's dropdowns",
        description=__doc__.split("\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deploy.add_argument(
        "--choices-only",
        action="store_true",
        help="only refresh the ship form's carrier and package lists (after a policy change)",
    )
    deploy.add_argument(
        "--wish-block", help="WishCredentials block of the account whose carriers to list (default: the deployment's)"
    )
    deploy.add_argument(
        "--policy-block", help="ShippingPolicy block with the presets and rules (default: the deployment's, else env)"
    )
    deploy.add_argument(
        "--deployment", default=SHIP_DEPLOYMENT, help=f"the ship deployment (default: {SHIP_DEPLOYMENT})"
    )
    deploy.add_argument("-v", "--verbose", action="store_true", help="show prefect deploy's output")
    deploy.set_defaults(func=_deploy)
