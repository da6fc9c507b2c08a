"""The token file: one store's OAuth tokens for one API root, kept on disk between runs.

Why a file: Wish revokes the previous access token on every refresh, so a token refreshed from
environment credentials must be kept somewhere the next run reads, or every run refreshes again (and
any other process still holding the old token fails with 1008). ``wishflow auth login`` writes here too.

The file lives under the state directory (``WISHFLOW_STATE_DIR``, else ``.wishflow/`` in the working
directory) at ``tokens/<store>@<root hash>.json``, owner-only (0600, directory 0700), replaced
atomically (temp file + rename) so a reader never sees half a file. A lock file next to it
(``fcntl.flock``) serialises refresh + save across the processes of one store.

The file also remembers fingerprints (sha256) of the access tokens it superseded, so an environment
token the file has already replaced is recognised as older, while a token an operator sets later
(never seen by the file) wins over it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from wishflow.api.auth import TokenSet, parse_expiry

STATE_DIR_ENV = "WISHFLOW_STATE_DIR"
DEFAULT_STATE_DIR = Path(".wishflow")
#: How many superseded token fingerprints a file keeps (one per refresh; a refresh is every ~30 days).
MAX_SUPERSEDED = 50


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``WISHFLOW_STATE_DIR``, else ``.wishflow/`` under the working directory."""
    env = os.environ if environ is None else environ
    value = env.get(STATE_DIR_ENV)
    return Path(value) if value else Path.cwd() / DEFAULT_STATE_DIR


def token_fingerprint(token: SecretStr | str) -> str:
    """A one-way fingerprint of a token: safe to store and compare, useless to send."""
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    return hashlib.sha256(value.encode()).hexdigest()


def _safe_name(store: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", store)[:64] or "default"


@dataclass
class StoredTokens:
    """What a token file holds (``repr`` never shows a token)."""

    tokens: TokenSet
    store: str
    api_base_url: str
    merchant_id: str | None = None
    saved_at: datetime | None = None
    source: str | None = None  # "login", "refresh"
    supersedes: frozenset[str] = field(default_factory=frozenset)

    def knows(self, token: SecretStr | str) -> bool:
        """True if ``token`` is this file's token or one it replaced (so the file's is newer)."""
        fp = token_fingerprint(token)
        return fp == token_fingerprint(self.tokens.access_token) or fp in self.supersedes


class TokenStore:
    """The token file of one store and API root."""

    def __init__(self, store: str, api_base_url: str, directory: Path | None = None) -> None:
        self.store = store
        self.api_base_url = api_base_url.rstrip("/")
        root_hash = hashlib.sha256(self.api_base_url.encode()).hexdigest()[:12]
        self.directory = (directory if directory is not None else state_dir()) / "tokens"
        self.path = self.directory / f"{_safe_name(store)}@{root_hash}.json"
        self.lock_path = self.path.with_suffix(".lock")

    def __repr__(self) -> str:
        return f"TokenStore(store={self.store!r}, path={str(self.path)!r})"

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def exists(self) -> bool:
        """Whether tokens were ever saved for this store and API root."""
        return self.path.is_file()

    def load(self) -> StoredTokens | None:
        """The stored tokens, or None when there is no (readable, well-formed) file."""
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or not raw.get("access_token"):
            return None
        return StoredTokens(
            tokens=TokenSet(
                access_token=SecretStr(str(raw["access_token"])),
                refresh_token=SecretStr(str(raw["refresh_token"])) if raw.get("refresh_token") else None,
                expires_at=_parse_time(raw.get("expires_at")),
            ),
            store=str(raw.get("store", self.store)),
            api_base_url=str(raw.get("api_base_url", self.api_base_url)),
            merchant_id=raw.get("merchant_id"),
            saved_at=_parse_time(raw.get("saved_at")),
            source=raw.get("source"),
            supersedes=frozenset(str(f) for f in raw.get("supersedes") or ()),
        )

    def save(
        self,
        tokens: TokenSet,
        *,
        merchant_id: str | None = None,
        source: str = "refresh",
        supersedes: Iterable[SecretStr | str] = (),
    ) -> None:
        """Write the tokens atomically with mode 0600, remembering the token(s) they replace.

        The previous file's token is always recorded as superseded, plus ``supersedes`` (e.g. the
        environment token a refresh or a login replaced).
        """
        self._ensure_directory()
        previous = self.load()
        new_fp = token_fingerprint(tokens.access_token)
        superseded: list[str] = []
        if previous is not None:
            superseded += sorted(previous.supersedes)
            superseded.append(token_fingerprint(previous.tokens.access_token))
            merchant_id = merchant_id or previous.merchant_id
        superseded += [token_fingerprint(t) for t in supersedes]
        unique = [fp for fp in dict.fromkeys(superseded) if fp != new_fp][-MAX_SUPERSEDED:]
        body = {
            "store": self.store,
            "api_base_url": self.api_base_url,
            "access_token": tokens.access_token.get_secret_value(),
            "refresh_token": tokens.refresh_token.get_secret_value() if tokens.refresh_token else None,
            "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
            "merchant_id": merchant_id,
            "source": source,
            "saved_at": datetime.now(UTC).isoformat(),
            "supersedes": unique,
        }
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(body, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this store's refresh lock (an exclusive ``flock``, released if the process dies)."""
        self._ensure_directory()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class FileTokenPersistence:
    """A :class:`~wishflow.api.token_refresh.TokenPersistence` backed by a token file."""

    def __init__(self, store: TokenStore) -> None:
        self.token_store = store

    def __repr__(self) -> str:
        return f"FileTokenPersistence({self.token_store!r})"

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The token file's cross-process lock, taken around a refresh."""
        return self.token_store.locked()

    def load(self) -> TokenSet | None:
        """The tokens in the file now (another process may have refreshed them), or None."""
        stored = self.token_store.load()
        return stored.tokens if stored is not None else None

    def save(self, tokens: TokenSet, replaced: TokenSet) -> None:
        """Write the new tokens, recording the replaced access token as superseded."""
        self.token_store.save(tokens, source="refresh", supersedes=[replaced.access_token])


_parse_time = parse_expiry
