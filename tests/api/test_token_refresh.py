"""Single-flight token refresh over real HTTP (issue 17 item 5): threads of one client and processes of
one store share one refresh, and the token saved last is never a revoked one.

Each test serves its own sandbox: an OAuth refresh revokes every older token, which would break the
tokens other tests captured on the shared session sandbox (sandbox STATUS.md).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from wishflow.api.factory import client_from_env, env_token_store
from wishflow.api.token_store import TokenStore
from wishflow.sandbox import SandboxConfig, serve_in_thread

TTL_PLUS_A_DAY = 31 * 86400


@pytest.fixture
def own_sandbox() -> Iterator:  # type: ignore[type-arg]
    running = serve_in_thread(SandboxConfig(seed=23, orders=20, start_time=datetime(2026, 3, 2, tzinfo=UTC)))
    yield running
    running.stop()


def env_for(running, state_dir: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **os.environ,
        "WISH_API_BASE_URL": running.api_url,
        "WISH_ACCESS_TOKEN": running.access_token,
        "WISH_REFRESH_TOKEN": running.refresh_token,
        "WISH_CLIENT_ID": running.client_id,
        "WISH_CLIENT_SECRET": running.client_secret,
        "WISHFLOW_STORE": "tok-store",
        "WISHFLOW_STATE_DIR": str(state_dir),
    }


def expire_tokens(running) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{running.base_url}/sandbox/clock", json={"advance_seconds": TTL_PLUS_A_DAY}).raise_for_status()


def refreshes_at(running) -> int:  # type: ignore[no-untyped-def]
    stats = httpx.get(f"{running.base_url}/sandbox/stats").json()
    return sum(
        n
        for endpoint, outcomes in stats["requests"].items()
        if "refresh_token" in endpoint
        for outcome, n in outcomes.items()
        if outcome in ("200", "ok")
    )


def token_works(running, token: str) -> bool:  # type: ignore[no-untyped-def]
    response = httpx.get(f"{running.api_url}/oauth/test", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200 and response.json()["code"] == 0


def test_eight_threads_on_an_expired_token_make_one_refresh_and_no_call_fails(own_sandbox, tmp_path: Path) -> None:
    env = env_for(own_sandbox, tmp_path)
    old_token = own_sandbox.access_token
    expire_tokens(own_sandbox)
    barrier = threading.Barrier(8)
    results: list[object] = [None] * 8

    with client_from_env(env) as client:

        def call(i: int) -> None:
            barrier.wait()
            try:
                results[i] = len(client.list_orders(limit=5))
            except Exception as exc:  # recorded, asserted below
                results[i] = exc

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.token_refreshes == 1

    assert results == [5] * 8, results
    assert refreshes_at(own_sandbox) == 1
    stored = env_token_store(env).load()
    assert stored is not None
    new_token = stored.tokens.access_token.get_secret_value()
    assert new_token != old_token
    assert token_works(own_sandbox, new_token)
    assert not token_works(own_sandbox, old_token)


def test_a_call_revoked_by_another_threads_refresh_retries_with_the_current_token(own_sandbox, tmp_path: Path) -> None:
    """1008 on a token this client already replaced: retry with the current token, no second refresh."""
    env = env_for(own_sandbox, tmp_path)
    with client_from_env(env) as client:
        stale = client.tokens
        client.refresh_access_token()  # revokes `stale` at the sandbox
        assert client.token_refreshes == 1
        # a call that was sent with the stale token comes back 1008: recover() sees a newer token
        assert client._auth.recover(stale) is True
        assert client.token_refreshes == 1
        assert client.test_token()["merchant_id"]
    assert refreshes_at(own_sandbox) == 1


def test_the_token_file_is_owner_only_and_the_next_run_uses_it(own_sandbox, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.DEBUG)
    env = env_for(own_sandbox, tmp_path)
    expire_tokens(own_sandbox)
    with client_from_env(env) as client:
        client.list_orders(limit=1)
    store = env_token_store(env)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert not list(store.directory.glob("*.tmp"))
    token = store.load().tokens.access_token.get_secret_value()  # type: ignore[union-attr]
    # a second run from the same (now revoked) environment token uses the file: no second refresh
    with client_from_env(env) as client:
        client.list_orders(limit=1)
        assert client.token_refreshes == 0
    assert refreshes_at(own_sandbox) == 1
    for secret in (token, own_sandbox.client_secret, env["WISH_ACCESS_TOKEN"]):
        assert secret not in caplog.text
    assert token not in repr(store.load())
    assert token not in repr(store)


def test_an_operator_token_the_file_never_saw_wins_over_the_file(own_sandbox, tmp_path: Path) -> None:
    env = env_for(own_sandbox, tmp_path)
    expire_tokens(own_sandbox)
    with client_from_env(env) as client:
        client.test_token()
    fresh = httpx.post(f"{own_sandbox.base_url}/sandbox/oauth/token").json()["access_token"]
    with client_from_env({**env, "WISH_ACCESS_TOKEN": fresh}) as client:
        assert client.tokens.access_token.get_secret_value() == fresh


CHILD = """
import os, sys, time, json
from pathlib import Path
go = Path(sys.argv[1])
from wishflow.api.factory import client_from_env
with client_from_env() as client:
    while not go.exists():
        time.sleep(0.01)
    merchant = client.test_token()["merchant_id"]
    orders = len(client.list_orders(limit=3))
    print(json.dumps({"merchant": merchant, "orders": orders, "refreshes": client.token_refreshes}))
"""


def test_two_processes_of_one_store_refresh_once_and_save_a_working_token(own_sandbox, tmp_path: Path) -> None:
    env = env_for(own_sandbox, tmp_path / "state")
    expire_tokens(own_sandbox)
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(go)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both import and build their client (not an assertion on time)
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r["orders"] == 3 for r in results)
    assert sorted(r["refreshes"] for r in results) == [0, 1]
    assert refreshes_at(own_sandbox) == 1
    stored = TokenStore("tok-store", own_sandbox.api_url, tmp_path / "state").load()
    assert stored is not None
    assert token_works(own_sandbox, stored.tokens.access_token.get_secret_value())


def test_a_token_revoked_by_another_processs_refresh_is_replaced_from_the_file_not_refreshed(
    own_sandbox, tmp_path: Path
) -> None:
    """Two clients of one store (as two processes would be): the second gets 1008 and adopts the saved token."""
    env = env_for(own_sandbox, tmp_path)
    with client_from_env(env) as first, client_from_env(env) as second:
        first.refresh_access_token()  # revokes the token `second` holds, saves the new one
        assert len(second.list_orders(limit=2)) == 2
        assert second.token_refreshes == 0
        assert second.tokens.access_token.get_secret_value() == first.tokens.access_token.get_secret_value()
    assert refreshes_at(own_sandbox) == 1


def test_a_block_refresh_is_adopted_by_another_client_of_the_block(own_sandbox, prefect_harness) -> None:  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    from blocks.wish import WishCredentials

    WishCredentials(
        store="tok-block",
        api_base_url=own_sandbox.api_url,
        access_token=SecretStr(own_sandbox.access_token),
        refresh_token=SecretStr(own_sandbox.refresh_token),
        client_id=own_sandbox.client_id,
        client_secret=SecretStr(own_sandbox.client_secret),
    ).save("tok-block", overwrite=True)
    expire_tokens(own_sandbox)
    first = WishCredentials.load("tok-block").build_client()  # type: ignore[union-attr]
    second = WishCredentials.load("tok-block").build_client()  # type: ignore[union-attr]
    with first, second:
        assert len(first.list_orders(limit=2)) == 2
        assert first.token_refreshes == 1
        assert len(second.list_orders(limit=2)) == 2
        assert second.token_refreshes == 0
    saved = WishCredentials.load("tok-block").access_token.get_secret_value()  # type: ignore[union-attr]
    assert refreshes_at(own_sandbox) == 1
    assert token_works(own_sandbox, saved)
