"""Notification tasks: send a digest through a Prefect notification block.

Targets are Prefect's own notification blocks (``SlackWebhook``, ``MicrosoftTeamsWebhook``,
``CustomWebhookNotificationBlock``, ...), created in the UI or in code; a flow only names one.
Email needs the ``prefect-email`` collection, which Wishflow does not install.

The deployments name the block that ``wishflow notify setup`` saves (``wishflow-alerts``, one
constant: :data:`blocks.notifications.DEFAULT_BLOCK_NAME`). Until it exists, a digest is skipped with
one warning that says how to create it: notifications not being set up never fails an order run.
"""

from __future__ import annotations

import logging

from prefect import get_run_logger, task
from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.exceptions import MissingContextError

from blocks.loading import is_missing_block
from blocks.notifications import DEFAULT_BLOCK_NAME
from tasks.common import NOTIFY_TASK, engine_for
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


class NotificationBlockMissing(ValueError):  # noqa: N818 - reads as what happened
    """No notification block of that name exists (yet): ``wishflow notify setup`` creates it."""

    def __init__(self, block_name: str) -> None:
        self.block_name = block_name
        name = block_name.rsplit("/", 1)[-1]
        setup = "wishflow notify setup --webhook-url URL" + ("" if name == DEFAULT_BLOCK_NAME else f" --name {name}")
        super().__init__(
            f"notification block {block_name!r} does not exist yet: create it with `{setup}` "
            "(docs/going-live.md, 'Notifications, step by step'), or clear notify_block in the deployment's "
            "parameters"
        )


def load_notification_block(block_name: str) -> NotificationBlock:
    """Load ``type-slug/name``, or a bare name from the usual notification block types.

    Raises :class:`NotificationBlockMissing` when no such block exists.
    """
    block = None
    slugs = [block_name] if "/" in block_name else [f"{slug}/{block_name}" for slug in _NOTIFICATION_SLUGS]
    for slug in slugs:
        try:
            block = Block.load(slug)
            break
        except ValueError as exc:
            if not is_missing_block(exc):  # a block that exists but does not load is not "missing"
                raise
            continue
        except KeyError:  # a block type this process's Prefect does not know
            continue
    if block is None:
        raise NotificationBlockMissing(block_name)
    if not isinstance(block, NotificationBlock):
        raise TypeError(f"block {block_name!r} is a {type(block).__name__}, not a notification block")
    return block


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("wishflow.notify")


def _warn_missing(missing: NotificationBlockMissing, title: str) -> None:
    _logger().warning("%s (not sent: %r)", missing, title)


@task(name="send-notification", **NOTIFY_TASK)
def send_notification(block_name: str | None, title: str, body: str) -> bool:
    """Send ``body`` with ``title`` as subject through the named block; no block, nothing sent.

    Returns True when a message was sent. A block that does not exist yet is one warning and no
    message (never retried, never a failed run). A failed delivery raises (after retries): the caller
    decides whether a lost notification fails its run.
    """
    if not block_name:
        return False
    try:
        block = load_notification_block(block_name)
    except NotificationBlockMissing as missing:
        _warn_missing(missing, title)
        return False
    with block.raise_on_failure():
        # The abstract notify is typed async; every concrete block dispatches to its sync form in a sync task.
        block.notify(body, subject=title)  # type: ignore[unused-coroutine]
    get_run_logger().info("notification %r sent via %s", title, block_name)
    return True


@task(name="notify-new-orders", **NOTIFY_TASK)
def notify_new_orders(
    block_name: str | None,
    store: str,
    warehouse_url: str,
    order_ids: list[str],
    max_lines: int = DEFAULT_MAX_LINES,
    total: int | None = None,
) -> bool:
    """One digest of the orders first seen by a pull (read back from the warehouse).

    ``total`` is how many there were when ``order_ids`` holds only the soonest due. Only the orders
    the digest lists are read back (``order_ids`` come soonest due first): it counts the rest.
    """
    if not block_name or not order_ids:
        return False
    shown = list(order_ids)[:max_lines]
    summaries = order_summaries(engine_for(warehouse_url), store, shown)
    digest = new_orders_digest(store, summaries, max_lines=max_lines, total=max(total or 0, len(order_ids)))
    return send_notification.fn(block_name, digest.title, digest.body)
