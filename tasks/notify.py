"""Notification tasks: send a digest through a Prefect notification block.

Targets are Prefect's own notification blocks (``SlackWebhook``, ``MicrosoftTeamsWebhook``,
``CustomWebhookNotificationBlock``, ...), created in the UI or in code; a flow only names one.
Email needs the ``prefect-email`` collection, which Wishflow does not install.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.blocks.core import Block
from prefect.blocks.notifications import NotificationBlock

from tasks.common import engine_for
from wishflow.notify.digest import DEFAULT_MAX_LINES, new_orders_digest
from wishflow.validation.queries import order_summaries

#: Tried in order when a block is named without its type (``"alerts"`` rather than
#: ``"slack-webhook/alerts"``).
_NOTIFICATION_SLUGS = (
    "slack-webhook",
    "custom-webhook",
    "ms-teams-webhook",
    "discord-webhook",
    "mattermost-webhook",
    "apprise",
)


def load_notification_block(block_name: str) -> NotificationBlock:
    """Load ``type-slug/name``, or a bare name from the usual notification block types."""
    if "/" in block_name:
        block = Block.load(block_name)
    else:
        block = None
        for slug in _NOTIFICATION_SLUGS:
            try:
                block = Block.load(f"{slug}/{block_name}")
                break
            except (ValueError, KeyError):
                continue
        if block is None:
            raise ValueError(f"no notification block named {block_name!r} (use 'type-slug/name')")
    if not isinstance(block, NotificationBlock):
        raise TypeError(f"block {block_name!r} is a {type(block).__name__}, not a notification block")
    return block


@task(name="send-notification", retries=2, retry_delay_seconds=5)
def send_notification(block_name: str | None, title: str, body: str) -> bool:
    """Send ``body`` with ``title`` as subject through the named block; no block, nothing sent.

    Returns True when a message was sent. Failures raise (after retries): the caller decides
    whether a lost notification fails its run.
    """
    if not block_name:
        return False
    block = load_notification_block(block_name)
    with block.raise_on_failure():
        block.notify(body, subject=title)
    get_run_logger().info("notification %r sent via %s", title, block_name)
    return True


@task(name="notify-new-orders", retries=2, retry_delay_seconds=5)
def notify_new_orders(
    block_name: str | None,
    store: str,
    warehouse_url: str,
    order_ids: list[str],
    max_lines: int = DEFAULT_MAX_LINES,
    total: int | None = None,
) -> bool:
    """One digest of the orders first seen by a pull (read back from the warehouse); ``total`` is
    how many there were when ``order_ids`` holds only the soonest due."""
    if not block_name or not order_ids:
        return False
    summaries = order_summaries(engine_for(warehouse_url), store, list(order_ids))
    digest = new_orders_digest(store, summaries, max_lines=max_lines, total=total)
    return send_notification.fn(block_name, digest.title, digest.body)
