"""The pull flow configured through Prefect blocks: credentials as SecretStr, a refreshed token
saved back to its block (Wish revokes the old one), and one digest of new orders per run.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from blocks import Warehouse, WishCredentials
from flows.pull_orders import pull_orders
from tests.flows.conftest import SandboxAdmin


def test_pull_through_blocks_refreshes_and_saves_the_token_and_sends_one_digest(
    admin: SandboxAdmin,
    sandbox,  # type: ignore[no-untyped-def]
    warehouse_url: str,
    prefect_harness: None,
    notify_block: str,
    webhook: tuple[str, list[dict]],
) -> None:
    WishCredentials(
        store="shop-a",
        api_base_url=sandbox.api_url,
        access_token=SecretStr(sandbox.access_token),
        refresh_token=SecretStr(sandbox.refresh_token),
        client_id=sandbox.client_id,
        client_secret=SecretStr(sandbox.client_secret),
    ).save("shop-a", overwrite=True)
    Warehouse(url=SecretStr(warehouse_url)).save("test-warehouse", overwrite=True)
    first_token = sandbox.access_token
    admin.generate(25)
    admin.advance(31 * 86400)  # the saved access token has expired on the sandbox clock

    result = pull_orders(
        store="shop-a",
        wish_block="shop-a",
        warehouse_block="test-warehouse",
        notify_block=notify_block,
        safety_lag=timedelta(0),
    )

    assert result["new"] == 25
    saved = WishCredentials.load("shop-a")
    assert saved.access_token.get_secret_value() == sandbox.access_token != first_token
    _, received = webhook
    assert len(received) == 1
    assert "25 new orders" in received[0]["title"]
    assert first_token not in str(received)
    assert sandbox.access_token not in str(received)
    assert "**********" in repr(saved)  # secrets stay masked in the block's repr
