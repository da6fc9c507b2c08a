"""``wishflow notify``: where Wishflow's alerts and digests go.

wishflow notify setup --webhook-url URL [--name NAME] [--allow-private-urls]
    saves a notification block (a webhook posting {"title", "text"} as JSON; Slack, Teams and most
    chat tools accept such an incoming webhook) and creates the automations that send failed and
    crashed runs of Wishflow's deployments to it. The deployments (prefect.yaml) already name the
    default block, ``wishflow-alerts``, for the new-order, at-risk, tracking and daily digests; a block
    saved under another ``--name`` must be named in their ``notify_block`` parameter by hand.
"""

from __future__ import annotations

import argparse
from typing import Any


def _setup(args: argparse.Namespace) -> int:
    from blocks.notifications import DEFAULT_BLOCK_NAME, setup_notifications

    done = setup_notifications(args.webhook_url, args.name, args.allow_private_urls)
    print(f"notification block: {done.block_slug}")
    for name, automation_id in done.automation_ids.items():
        print(f"automation {name!r}: {automation_id}")
    if args.name == DEFAULT_BLOCK_NAME:
        print(f"digests: the deployments (prefect.yaml) name {DEFAULT_BLOCK_NAME!r} already; nothing more to do")
    else:
        print(
            f"digests: the deployments name {DEFAULT_BLOCK_NAME!r}; set notify_block: {done.block_slug} in their "
            "parameters (prefect.yaml) and run `prefect deploy --all` again, or run setup without --name"
        )
    return 0


def add_parser(subparsers: Any) -> None:
    """Add the ``wishflow notify`` commands (where alerts and digests go)."""
    from wishflow.notify import DEFAULT_BLOCK_NAME  # not from blocks: that would import Prefect

    notify = subparsers.add_parser("notify", help="where alerts and digests go (Prefect notification block)")
    sub = notify.add_subparsers(dest="notify_command", required=True)
    setup = sub.add_parser("setup", help="save the notification block and the failed/crashed-run automations")
    setup.add_argument("--webhook-url", required=True, help="URL the block posts {title, text} JSON to")
    setup.add_argument(
        "--name",
        default=DEFAULT_BLOCK_NAME,
        help=f"block name (default: {DEFAULT_BLOCK_NAME}, the name prefect.yaml's deployments use)",
    )
    setup.add_argument(
        "--allow-private-urls", action="store_true", help="allow a loopback or private-network URL (tests, LAN)"
    )
    setup.set_defaults(func=_setup)
