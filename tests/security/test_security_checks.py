"""``prefect_api_unauthenticated_warning``: what ``wishflow doctor`` says about the Prefect API."""

from __future__ import annotations

import pytest

from wishflow.security_checks import is_loopback, prefect_api_unauthenticated_warning


def _probe(status: int, seen: list[str]):  # type: ignore[no-untyped-def]
    def probe(url: str) -> int:
        seen.append(url)
        return status

    return probe


@pytest.mark.parametrize("url", ["http://127.0.0.1:4200/api", "http://localhost:4200/api", "http://[::1]:4200/api"])
def test_loopback_is_never_probed(url: str) -> None:
    seen: list[str] = []
    assert prefect_api_unauthenticated_warning(url, _probe(200, seen)) is None
    assert seen == []


def test_an_open_api_on_the_network_is_a_warning() -> None:
    seen: list[str] = []
    warning = prefect_api_unauthenticated_warning("https://prefect.example.com/api", _probe(200, seen))
    assert seen == ["https://prefect.example.com/api/admin/version"]
    assert warning
    assert "without authentication" in warning
    assert "PREFECT_SERVER_API_AUTH_STRING" in warning


def test_an_api_asking_for_credentials_over_tls_is_fine_and_over_http_is_warned() -> None:
    assert prefect_api_unauthenticated_warning("https://10.0.0.5/api", _probe(401, [])) is None
    warning = prefect_api_unauthenticated_warning("http://10.0.0.5:4200/api", _probe(401, []))
    assert warning
    assert "plain HTTP" in warning


def test_an_unreachable_api_or_none_is_not_this_checks_finding() -> None:
    def down(url: str) -> int:
        raise OSError("connection refused")

    assert prefect_api_unauthenticated_warning("http://10.0.0.5:4200/api", down) is None
    assert prefect_api_unauthenticated_warning(None) is None
    assert not is_loopback("10.0.0.5")
    assert is_loopback("127.0.0.2")


def test_against_a_real_prefect_server_without_auth(prefect_harness: None) -> None:
    """The harness's server has no auth string: the probe's path answers 200 without credentials
    (so a non-loopback address would be warned about).
    """
    from prefect.settings import PREFECT_API_URL

    from wishflow.security_checks import PROBE_PATH, unauthenticated_probe

    api = PREFECT_API_URL.value()
    assert api
    assert unauthenticated_probe(api.rstrip("/") + PROBE_PATH) == 200
