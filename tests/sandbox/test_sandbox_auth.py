"""OAuth: codes for tokens, refresh revokes, 30-day expiry on the sandbox clock, Wish's error codes."""

from __future__ import annotations

import httpx

from wishflow.sandbox import RunningSandbox


def test_missing_and_unknown_tokens_get_401_with_code_1012(running: RunningSandbox) -> None:
    plain = httpx.get(f"{running.api_url}/orders")
    assert plain.status_code == 401
    assert plain.json()["code"] == 1012
    assert plain.headers["wish-request-id"]
    assert "wish-rate-limit-remaining" in plain.headers
    wrong = httpx.get(f"{running.api_url}/orders", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == 1012


def test_oauth_test_reports_the_merchant(api: httpx.Client, running: RunningSandbox) -> None:
    body = api.get("/oauth/test").json()
    assert body == {"code": 0, "message": "", "data": {"merchant_id": running.sandbox.merchant_id}}
    missing = httpx.get(f"{running.api_url}/oauth/test")
    assert missing.status_code == 400
    assert missing.json()["code"] == 1006


def test_token_expires_after_30_days_on_the_sandbox_clock(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/clock", json={"advance_seconds": 29 * 86400}).raise_for_status()
    assert api.get("/orders", params={"limit": 1}).status_code == 200
    admin.post("/clock", json={"advance_seconds": 2 * 86400}).raise_for_status()
    expired = api.get("/orders", params={"limit": 1})
    assert expired.status_code == 401
    assert expired.json()["code"] == 1007
    on_test = api.get("/oauth/test")
    assert on_test.status_code == 400
    assert on_test.json()["code"] == 1007


def test_refresh_issues_a_new_token_and_revokes_the_old(running: RunningSandbox, api: httpx.Client) -> None:
    old = running.access_token
    response = httpx.get(
        f"{running.api_url}/oauth/refresh_token",
        params={
            "client_id": running.client_id,
            "client_secret": running.client_secret,
            "refresh_token": running.refresh_token,
            "grant_type": "refresh_token",
        },
    )
    data = response.json()["data"]
    assert data["access_token"] != old
    assert data["refresh_token"] == running.refresh_token
    assert data["merchant_id"] == running.sandbox.merchant_id
    assert "orders:read" in data["scopes"]
    revoked = api.get("/orders")
    assert revoked.status_code == 401
    assert revoked.json()["code"] == 1008
    fresh = httpx.get(f"{running.api_url}/orders", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert fresh.status_code == 200
    assert running.access_token == data["access_token"]


def test_refresh_errors(running: RunningSandbox) -> None:
    params = {
        "client_id": running.client_id,
        "client_secret": "wrong",
        "refresh_token": running.refresh_token,
        "grant_type": "refresh_token",
    }
    assert httpx.get(f"{running.api_url}/oauth/refresh_token", params=params).json()["code"] == 10001
    params.update(client_secret=running.client_secret, grant_type="password")
    assert httpx.get(f"{running.api_url}/oauth/refresh_token", params=params).json()["code"] == 1001
    params.update(grant_type="refresh_token", refresh_token="bogus")
    assert httpx.get(f"{running.api_url}/oauth/refresh_token", params=params).json()["code"] == 1006


def test_authorization_code_exchange(running: RunningSandbox, admin: httpx.Client) -> None:
    code = admin.post("/oauth/code").json()["code"]
    body = {
        "client_id": running.client_id,
        "client_secret": running.client_secret,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": running.sandbox.redirect_uri,
    }
    first = httpx.post(f"{running.api_url}/oauth/access_token", json=body)
    assert first.status_code == 200
    token = first.json()["data"]["access_token"]
    assert httpx.get(f"{running.api_url}/oauth/test", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = httpx.post(f"{running.api_url}/oauth/access_token", json=body)
    assert again.status_code == 400
    assert again.json()["code"] == 10002
    assert httpx.post(f"{running.api_url}/oauth/access_token", json={**body, "code": "x"}).json()["code"] == 10008
    bad = {**body, "client_secret": "no"}
    assert httpx.post(f"{running.api_url}/oauth/access_token", json=bad).json()["code"] == 10001
    late = admin.post("/oauth/code").json()["code"]
    admin.post("/clock", json={"advance_seconds": 601})
    expired = httpx.post(f"{running.api_url}/oauth/access_token", json={**body, "code": late})
    assert expired.json()["code"] == 10004


def test_admin_can_issue_a_fresh_token_without_revoking(running: RunningSandbox, api: httpx.Client) -> None:
    token = httpx.post(f"{running.base_url}/sandbox/oauth/token").json()["access_token"]
    assert httpx.get(f"{running.api_url}/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.get("/orders").status_code == 200
