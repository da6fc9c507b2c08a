"""``wishflow sandbox serve``: serve the Wish API sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sandbox serve`` on an argparse subparsers object."""
    sandbox = subparsers.add_parser("sandbox", help="the Wish Merchant API v3 sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="COMMAND")
    sandbox_sub.required = True
    serve = sandbox_sub.add_parser("serve", help="serve the sandbox over HTTP until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--seed", type=int, default=0, help="seed for data, tokens and faults (default 0)")
    serve.add_argument("--orders", type=int, default=0, help="orders generated at start (default 0)")
    serve.add_argument(
        "--rate-limit", type=int, default=None, help="requests per second per access token (default: unlimited)"
    )
    serve.add_argument("--state-file", default=None, help="SQLite file to restore from and save to on exit")
    serve.add_argument(
        "--release-rate", type=float, default=0.0, help="new orders released per hour of sandbox time (default 0)"
    )
    serve.add_argument("--bad-order-share", type=float, default=0.0, help="share of generated orders with bad data")
    from wishflow.sandbox.write_profiles import PROFILES

    serve.add_argument(
        "--write-profile",
        choices=sorted(PROFILES),
        default="default",
        help="how tracking writes behave where Wish's spec is silent (wishflow/sandbox/STATUS.md)",
    )
    from wishflow.sandbox.programs import DATA_PROFILES
    from wishflow.sandbox.read_profiles import READ_PROFILES

    serve.add_argument(
        "--read-profile",
        choices=sorted(READ_PROFILES),
        default="documented",
        help="how reads behave where Wish's spec is silent (wishflow/sandbox/STATUS.md)",
    )
    serve.add_argument(
        "--data-profile",
        choices=sorted(DATA_PROFILES),
        default=None,
        help="what generated data hold: other currencies, FBW/LTL/Wish Express orders, penalty reversals "
        "(default: the read profile's)",
    )
    serve.set_defaults(func=run_serve)
    return sandbox


def run_serve(args: argparse.Namespace) -> int:
    """``wishflow sandbox serve``: serve the Wish API sandbox until interrupted."""
    from wishflow.sandbox.config import SandboxConfig
    from wishflow.sandbox.server import bind_socket, build_sandbox, serve_forever

    config = SandboxConfig(
        seed=args.seed,
        orders=args.orders,
        rate_limit=args.rate_limit,
        state_file=args.state_file,
        release_rate_per_hour=getattr(args, "release_rate", 0.0) or 0.0,
        bad_order_share=getattr(args, "bad_order_share", 0.0) or 0.0,
        write_profile=getattr(args, "write_profile", None) or "default",
        read_profile=getattr(args, "read_profile", None) or "documented",
        data_profile=getattr(args, "data_profile", None),
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    sandbox = build_sandbox(config)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}"
    lines = [
        f"api: {base}/api/v3",
        f"access token: {sandbox.access_token}",
        f"client id: {sandbox.client_id}",
        f"client secret: {sandbox.client_secret}",
        f"refresh token: {sandbox.refresh_token}",
        f"admin: {base}/sandbox/ (stats, clock, faults, orders; no token needed)",
        f"use it: export WISH_API_BASE_URL={base}/api/v3 WISHFLOW_PROFILE=sandbox "
        "(any root but the default is treated as a live account unless WISHFLOW_PROFILE=sandbox)",
        f"try: curl -H 'Authorization: Bearer {sandbox.access_token}' '{base}/api/v3/orders?limit=2'",
        "Ctrl-C to stop",
    ]
    print("\n".join(lines), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(sandbox, sock)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m wishflow_cli.sandbox_cmd sandbox serve ...``)."""
    parser = argparse.ArgumentParser(prog="wishflow")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
