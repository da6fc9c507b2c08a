"""``wishflow webhooks subscribe`` generates a store's secret, keeps it owner-only and never prints
it; ``wishflow webhooks serve`` refuses a secrets file others can read (one ``error:`` line, exit 2).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from wishflow_cli.main import main


def test_subscribe_keeps_the_secret_owner_only_and_never_prints_it(
    sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    secrets_file = tmp_path / "hooks" / "secrets.json"
    args = [
        "webhooks",
        "subscribe",
        "--endpoint",
        "http://127.0.0.1:9/wish/webhooks/shop-9",
        "--secrets-file",
        str(secrets_file),
        "--api-url",
        sandbox.api_url,
        "--access-token",
        sandbox.access_token,
        "--topics",
        "ORDER_RELEASE",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    secret = json.loads(secrets_file.read_text())["shop-9"]
    assert len(secret) >= 43
    assert secret not in out
    assert "<secret>" in out
    http = httpx.Client(base_url=sandbox.api_url, headers={"Authorization": f"Bearer {sandbox.access_token}"})
    request.addfinalizer(http.close)  # not left to the GC: an open client's socket is a ResourceWarning

    def shop_9_subscriptions() -> list[dict[str, Any]]:
        # the session's sandbox keeps other tests' subscriptions (a reset does not clear them): count ours
        subs = http.get("/webhook/subscriptions").json()["data"]
        return [s for s in subs if s["endpoint"].startswith("http://127.0.0.1:9/wish/webhooks/shop-9/")]

    [sub] = shop_9_subscriptions()
    assert sub["endpoint"] == f"http://127.0.0.1:9/wish/webhooks/shop-9/{secret}"
    # again: the same secret, the same subscription
    assert main(args) == 0
    assert json.loads(secrets_file.read_text())["shop-9"] == secret
    assert [s["id"] for s in shop_9_subscriptions()] == [sub["id"]]
    assert secret not in capsys.readouterr().out
    http.delete(f"/webhook/subscriptions/{sub['id']}")  # the session's sandbox keeps subscriptions


def test_serve_refuses_a_secrets_file_others_can_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text('{"shop": "s3cr3t-value-long-enough"}')
    secrets_file.chmod(0o644)
    assert main(["webhooks", "serve", "--port", "0", "--secrets-file", str(secrets_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "chmod 600" in err
    assert "s3cr3t" not in err
    assert len(err.strip().splitlines()) == 1


def test_serve_without_any_secret_is_a_configuration_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["webhooks", "serve", "--port", "0", "--secrets-file", str(tmp_path / "none.json")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error: no webhook secrets")
