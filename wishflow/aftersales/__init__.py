"""After-sales: refunds, tickets, penalties, completion, follow-ups, daily summary.

Order completion is part of it; nothing here imports Prefect.
"""

from wishflow.aftersales.completion import CompletionResult, completed_orders, update_completions
from wishflow.aftersales.follow_ups import FollowUpResult, open_follow_ups, update_follow_ups
from wishflow.aftersales.penalties import PenaltySync, fetch_penalties, record_penalties, sync_penalties
from wishflow.aftersales.refunds import RefundSync, refund_rows, sync_refunds
from wishflow.aftersales.summary import DailySummary, daily_summary, day_metrics, render_markdown
from wishflow.aftersales.tickets import (
    DEFAULT_TEMPLATES,
    PlannedReply,
    ReplyPolicy,
    TicketSync,
    awaiting_merchant,
    plan_replies,
    record_tickets,
    send_replies,
    sync_tickets,
)

__all__ = [
    "DEFAULT_TEMPLATES",
    "CompletionResult",
    "DailySummary",
    "FollowUpResult",
    "PenaltySync",
    "PlannedReply",
    "RefundSync",
    "ReplyPolicy",
    "TicketSync",
    "awaiting_merchant",
    "completed_orders",
    "daily_summary",
    "day_metrics",
    "fetch_penalties",
    "open_follow_ups",
    "plan_replies",
    "record_penalties",
    "record_tickets",
    "refund_rows",
    "render_markdown",
    "send_replies",
    "sync_penalties",
    "sync_refunds",
    "sync_tickets",
    "update_completions",
    "update_follow_ups",
]
