"""The merchant's action list: one row per thing to do today, from one view (``v_action_items``).

:mod:`wishflow.actions.views` holds the view's SQL (created by migration ``0006_action_items``);
:mod:`wishflow.actions.queues` reads it, and the queue counts every surface prints (CLI, demo,
report, notifications) come from :func:`wishflow.actions.queues.queue_counts`, so they agree.
"""

from __future__ import annotations

from wishflow.actions.queues import ACTION_KINDS, action_items, queue_counts

__all__ = ["ACTION_KINDS", "action_items", "queue_counts"]
