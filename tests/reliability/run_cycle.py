"""Run the order cycle once for one store: the process the crash tests SIGKILL.

Configuration comes from the environment like any flow run without blocks (``WISH_*``,
``WISHFLOW_WAREHOUSE_URL``, ``PREFECT_API_URL``). ``WISHFLOW_RELIABILITY_CLIENT_TIMEOUT`` (seconds)
shortens the Wish client's timeout so that the sandbox's injected timeouts are real client timeouts
without waiting 30 s each. Exit status: 0 when every stage succeeded, 1 otherwise.

    python -m tests.reliability.run_cycle [store] [cycle|pull]
"""

from __future__ import annotations

import os
import sys


def shorten_client_timeout(seconds: float) -> None:
    """Every ``WishClient`` built from now on in this process times out after ``seconds``."""
    import httpx

    from wishflow.api.client import WishClient

    defaults = WishClient.__init__.__kwdefaults__
    assert defaults is not None
    defaults["timeout"] = httpx.Timeout(seconds, connect=min(seconds, 10.0))


def main(argv: list[str]) -> int:
    store = argv[1] if len(argv) > 1 else "default"
    timeout = float(os.environ.get("WISHFLOW_RELIABILITY_CLIENT_TIMEOUT") or 0)
    if timeout:
        shorten_client_timeout(timeout)
    mode = argv[2] if len(argv) > 2 else "cycle"
    if mode == "pull":
        from flows.pull_orders import pull_orders as flow_fn
    else:
        from flows.order_cycle import order_cycle as flow_fn

    print("READY", flush=True)
    state = flow_fn(store=store, return_state=True)
    result = state.result(raise_on_failure=False)
    outcome = result.get("outcome") if isinstance(result, dict) else getattr(state, "message", "")
    print(f"OUTCOME {outcome}", flush=True)
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
