"""Subscribe an endpoint to Wish's webhook topics (``/webhook/topics``, ``/webhook/subscriptions``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from wishflow.webhooks.receiver import TOPIC_EVENTS


def _data(response: httpx.Response) -> Any:
    response.raise_for_status()
    body = response.json()
    if body.get("code", 0) != 0:
        raise RuntimeError(f"Wish answered code {body.get('code')}: {body.get('message')}")
    return body.get("data")


def ensure_subscriptions(
    api_url: str, access_token: str, endpoint: str, topics: Iterable[str] = tuple(TOPIC_EVENTS), timeout: float = 30
) -> list[dict[str, Any]]:
    """Subscribe ``endpoint`` to each topic; returns the subscriptions.

    Idempotent: existing subscriptions are kept, inactive ones reactivated.
    """
    headers = {"Authorization": f"Bearer {access_token}"}
    with httpx.Client(base_url=api_url.rstrip("/"), headers=headers, timeout=timeout) as http:
        topic_ids = {t["topic_name"]: t["id"] for t in _data(http.get("/webhook/topics"))}
        existing = _data(http.get("/webhook/subscriptions")) or []
        out = []
        for topic in topics:
            if topic not in topic_ids:
                raise ValueError(f"Wish has no webhook topic {topic}")
            tid = topic_ids[topic]
            found = next((s for s in existing if s["topic_id"] == tid and s["endpoint"] == endpoint), None)
            if found is None:
                found = _data(http.post("/webhook/subscriptions", params={"topic_id": tid, "endpoint": endpoint}))
            elif found.get("status") != "ACTIVE":
                found = _data(http.put(f"/webhook/subscriptions/{found['id']}", params={"status": "ACTIVE"}))
            out.append(found)
        return out
