"""``wishflow auth login|status`` against the real sandbox over HTTP: the authorization-code exchange
(``GET /oauth/access_token``), the owner-only token file, whose token it is, and no token in any output.
"""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import httpx
import pytest

from wishflow.api.oauth import authorize_url, host_root
from wishflow.api.token_store import TokenStore
from wishflow_cli.main import main


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("https://merchant.wish.com/api/v3", "https://merchant.wish.com/v3/oauth/authorize?client_id=app1"),
        (
            "https://sandbox.merchant.wish.com/api/v3/",
            "https://sandbox.merchant.wish.com/v3/oauth/authorize?client_id=app1",
        ),
    ],
)
def test_the_authorize_url_is_wishs_on_the_api_roots_host(root: str, expected: str) -> None:
    assert authorize_url(root, "app1") == expected
    assert host_root("http://127.0.0.1:9/prefix/api/v3") == "http://127.0.0.1:9/prefix"


@pytest.fixture
def login_env(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    creds = httpx.get(f"{sandbox.base_url}/sandbox/credentials").json()
    for name in ("WISH_ACCESS_TOKEN", "WISH_REFRESH_TOKEN", "WISHFLOW_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WISH_API_BASE_URL", sandbox.api_url)
    monkeypatch.setenv("WISH_CLIENT_ID", creds["client_id"])
    monkeypatch.setenv("WISH_CLIENT_SECRET", creds["client_secret"])
    monkeypatch.setenv("WISH_REDIRECT_URI", creds["redirect_uri"])
    monkeypatch.setenv("WISHFLOW_STATE_DIR", str(tmp_path / "state"))
    return creds


def mint_code(sandbox) -> str:  # type: ignore[no-untyped-def]
    return str(httpx.post(f"{sandbox.base_url}/sandbox/oauth/code").json()["code"])


def token_works(sandbox, token: str) -> bool:  # type: ignore[no-untyped-def]
    response = httpx.get(f"{sandbox.api_url}/oauth/test", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


def test_login_exchanges_the_code_and_saves_an_owner_only_token_file_then_status_says_whose(
    sandbox, login_env, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = mint_code(sandbox)
    assert main(["auth", "login", "--store", "shop1", "--code", code]) == 0
    login_out = capsys.readouterr()
    assert f"{sandbox.base_url}/v3/oauth/authorize?client_id={login_env['client_id']}" in login_out.out
    assert f"merchant {sandbox.merchant_id}" in login_out.out

    store = TokenStore("shop1", sandbox.api_url, tmp_path / "state")
    stored = store.load()
    assert stored is not None
    assert stored.source == "login"
    assert stored.merchant_id == sandbox.merchant_id
    token = stored.tokens.access_token.get_secret_value()
    assert token_works(sandbox, token)
    assert stored.tokens.refresh_token is not None
    assert stored.tokens.expires_at is not None
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700

    # status: whose token (from the file, no WISH_ACCESS_TOKEN in the environment) and its expiry
    assert main(["auth", "status", "--store", "shop1"]) == 0
    status_out = capsys.readouterr()
    assert f"token of merchant {sandbox.merchant_id}" in status_out.out
    assert "from token file" in status_out.out
    assert "expires 20" in status_out.out

    for secret in (token, stored.tokens.refresh_token.get_secret_value(), login_env["client_secret"], code):
        for text in (login_out.out, login_out.err, status_out.out, status_out.err, caplog.text):
            assert secret not in text


def test_a_redeemed_code_is_one_error_line_and_the_file_is_untouched(
    sandbox, login_env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = mint_code(sandbox)
    assert main(["auth", "login", "--code", code]) == 0
    store = TokenStore("default", sandbox.api_url, tmp_path / "state")
    first = store.load().tokens.access_token.get_secret_value()  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["auth", "login", "--code", code]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: "), err
    assert "10002" in err[0], err
    assert store.load().tokens.access_token.get_secret_value() == first  # type: ignore[union-attr]


def test_the_code_can_be_typed_at_the_prompt(
    sandbox, login_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(mint_code(sandbox) + "\n"))
    assert main(["auth", "login"]) == 0
    assert "code: " in capsys.readouterr().out


def test_the_sandbox_profile_mints_the_code_itself(
    sandbox, login_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("WISH_CLIENT_ID", "WISH_CLIENT_SECRET", "WISH_REDIRECT_URI"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("WISHFLOW_PROFILE", "sandbox")
    assert main(["auth", "login"]) == 0
    out = capsys.readouterr().out
    assert f"POST {sandbox.base_url}/sandbox/oauth/code" in out
    assert f"merchant {sandbox.merchant_id}" in out


def test_login_without_app_credentials_is_one_error_line(
    sandbox, login_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WISH_CLIENT_SECRET")
    assert main(["auth", "login", "--code", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert "WISH_CLIENT_SECRET" in err[0]


def test_status_with_environment_credentials_says_the_expiry_is_unknown(
    sandbox, login_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WISH_ACCESS_TOKEN", sandbox.access_token)
    assert main(["auth", "status"]) == 0
    out = capsys.readouterr().out
    assert f"token of merchant {sandbox.merchant_id} (from environment)" in out
    assert "expiry unknown" in out
    assert sandbox.access_token not in out


def test_login_with_a_block_saves_the_tokens_to_it_and_status_reads_it(
    sandbox, login_env, prefect_harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pydantic import SecretStr

    from blocks.wish import WishCredentials

    for name in ("WISH_CLIENT_ID", "WISH_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    WishCredentials(
        store="blockshop",
        api_base_url=sandbox.api_url,
        access_token=SecretStr("placeholder-before-login"),
        client_id=login_env["client_id"],
        client_secret=SecretStr(login_env["client_secret"]),
    ).save("login-block", overwrite=True)
    assert main(["auth", "login", "--block", "login-block", "--code", mint_code(sandbox)]) == 0
    assert "and to block login-block" in capsys.readouterr().out
    saved = WishCredentials.load("login-block")
    token = saved.access_token.get_secret_value()  # type: ignore[union-attr]
    assert token != "placeholder-before-login"
    assert token_works(sandbox, token)
    assert saved.refresh_token is not None  # type: ignore[union-attr]
    assert main(["auth", "status", "--block", "login-block"]) == 0
    out = capsys.readouterr().out
    assert f"token of merchant {sandbox.merchant_id} (from block login-block)" in out
    assert token not in out
