"""The token file on its own: owner-only whatever the umask, atomic, and which token is newer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import SecretStr

from wishflow.api.auth import TokenSet
from wishflow.api.token_store import TokenStore, state_dir


def tokens(access: str, refresh: str | None = "r1") -> TokenSet:
    return TokenSet(SecretStr(access), SecretStr(refresh) if refresh else None)


def test_the_file_is_owner_only_even_under_a_permissive_umask(tmp_path: Path) -> None:
    store = TokenStore("shop/1", "https://merchant.wish.com/api/v3", tmp_path)
    old = os.umask(0)
    try:
        store.save(tokens("a1"))
    finally:
        os.umask(old)
    assert store.path.parent == tmp_path / "tokens"
    assert "/" not in store.path.name
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert [p.name for p in store.directory.iterdir() if p.suffix == ".tmp"] == []


def test_each_save_remembers_the_tokens_it_replaced(tmp_path: Path) -> None:
    store = TokenStore("s", "http://127.0.0.1:1/api/v3", tmp_path)
    store.save(tokens("first-access-token"), supersedes=[SecretStr("env-token")])
    store.save(tokens("second-access-token", None))
    stored = store.load()
    assert stored is not None
    assert stored.tokens.access_token.get_secret_value() == "second-access-token"
    assert stored.tokens.refresh_token is None
    assert stored.knows(SecretStr("first-access-token"))
    assert stored.knows("env-token")
    assert stored.knows("second-access-token")
    assert not stored.knows("set-by-an-operator-later")
    # fingerprints only
    assert "first-access-token" not in store.path.read_text()
    assert "env-token" not in store.path.read_text()
    assert "second-access-token" not in repr(stored)


def test_roots_and_stores_have_separate_files_and_a_damaged_file_reads_as_none(tmp_path: Path) -> None:
    a = TokenStore("s", "https://merchant.wish.com/api/v3", tmp_path)
    b = TokenStore("s", "https://sandbox.merchant.wish.com/api/v3", tmp_path)
    c = TokenStore("t", "https://merchant.wish.com/api/v3", tmp_path)
    assert len({a.path, b.path, c.path}) == 3
    a.directory.mkdir(parents=True)
    a.path.write_text("{not json")
    assert a.load() is None
    assert b.load() is None


def test_the_state_directory_follows_the_environment(tmp_path: Path) -> None:
    assert state_dir({"WISHFLOW_STATE_DIR": str(tmp_path)}) == tmp_path
    assert state_dir({}) == Path.cwd() / ".wishflow"
