"""SQL of ``v_action_items``: every thing the merchant must act on, one row each, for both databases.

Kinds (``kind``), each from the one place that defines it:

- ``quarantined_order``: an open order held by validation (``v_quarantined_orders``): fix it on Wish
  or refund it before its ship-by deadline.
- ``order_at_risk``: an open order not quarantined with less than 24 hours (or overdue) before its
  ship-by deadline (``v_open_orders`` under the condition that defines ``v_orders_at_risk``,
  ``validation_views.AT_RISK_CONDITION``; a quarantined order is listed once, as quarantined).
- ``shipment_pending_at_wish``: a tracking write Wish accepted but has not confirmed for
  :data:`PENDING_AT_WISH_HOURS` hours (``shipments.state = 'submitted'``).
- ``ticket_awaiting_merchant``, ``penalty_to_review``, ``tracking_exception``: the open follow-ups
  (``follow_ups``), with a tracking exception's *current* severity (at_risk becomes missed when its
  deadline passes); an open tracking exception the follow-up stage has not picked up yet is listed
  from ``tracking_exceptions`` directly.

``severity`` is ``missed`` (a deadline has passed), ``at_risk`` (a deadline is near), or ``action``
(needs doing, no deadline near); ``severity_rank`` sorts them in that order, then ``due_at``.
"""

from __future__ import annotations

from wishflow.warehouse.validation_views import AT_RISK_HOURS_DEFAULT, constant_sql, hours_left_sql, hours_since_sql

#: A submitted tracking write unconfirmed by Wish for this long is worth a look.
PENDING_AT_WISH_HOURS = 12

ACTION_VIEW = "v_action_items"

#: Follow-up kinds that are about a tracking exception, and the exception type each one follows.
_EXCEPTION_FOLLOW_UPS = {
    "RESHIP": "TRACKING_CANCELLED",
    "FIRST_SCAN_LATE": "FIRST_SCAN_LATE",
    "NO_MOVEMENT": "NO_MOVEMENT",
    "CONFIRMED_DELIVERY_LATE": "CONFIRMED_DELIVERY_LATE",
    "WISH_EXPRESS_LATE": "WISH_EXPRESS_LATE",
}

#: SQL: the tracking exception type a follow-up follows (NULL for tickets and penalties).
_EXCEPTION_TYPE_OF_FOLLOW_UP = (
    "CASE f.kind " + " ".join(f"WHEN '{kind}' THEN '{etype}'" for kind, etype in _EXCEPTION_FOLLOW_UPS.items()) + " END"
)

#: SQL: the action kind of a follow-up.
_ACTION_KIND_OF_FOLLOW_UP = (
    "CASE f.kind WHEN 'TICKET_AWAITING_MERCHANT' THEN 'ticket_awaiting_merchant' "
    "WHEN 'PENALTY_REVIEW' THEN 'penalty_to_review' ELSE 'tracking_exception' END"
)


def _severity(hours: str) -> str:
    return (
        f"CASE WHEN {hours} < 0 THEN 'missed' WHEN {hours} < {AT_RISK_HOURS_DEFAULT} THEN 'at_risk' ELSE 'action' END"
    )


def action_view_statements(dialect: str) -> list[str]:
    """``CREATE VIEW v_action_items`` for ``dialect`` (the quarantine views must exist)."""
    return [
        constant_sql(
            """
CREATE VIEW {view} AS
SELECT
    a.store, a.kind, a.order_id, a.entity_id, a.severity,
    CASE a.severity WHEN 'missed' THEN 0 WHEN 'at_risk' THEN 1 ELSE 2 END AS severity_rank,
    a.due_at, a.hours_left, a.opened_at, a.what_to_do
FROM (
SELECT
    q.store,
    'quarantined_order' AS kind,
    q.order_id,
    q.order_id AS entity_id,
    {quarantine_severity} AS severity,
    q.expected_ship_time AS due_at,
    q.hours_left,
    q.quarantined_since AS opened_at,
    'Fix the order on Wish or refund it before its ship-by deadline; it fails: ' || COALESCE(q.reasons, '?')
        AS what_to_do
FROM v_quarantined_orders q
UNION ALL
SELECT
    o.store,
    'order_at_risk',
    o.order_id,
    o.order_id,
    CASE WHEN o.hours_left < 0 THEN 'missed' ELSE 'at_risk' END,
    o.expected_ship_time,
    o.hours_left,
    o.released_at,
    CASE WHEN o.validation_status = 'pending'
        THEN 'Validate and ship before the ship-by deadline (not yet validated).'
        ELSE 'Ship before the ship-by deadline.' END
FROM v_open_orders o
WHERE o.validation_status <> 'quarantined' AND o.expected_ship_time IS NOT NULL
  AND o.hours_left < {at_risk_hours}
UNION ALL
SELECT
    s.store,
    'shipment_pending_at_wish',
    s.order_id,
    s.shipment_id,
    'action',
    NULL,
    NULL,
    s.submitted_at,
    'Wish has not confirmed tracking number ' || s.tracking_number || ' (' || s.carrier || ') for more than '
        || '{pending_hours} hours: check the order on Wish.'
FROM shipments s
WHERE s.state = 'submitted' AND s.submitted_at IS NOT NULL AND {sent_hours} >= {pending_hours}
UNION ALL
SELECT
    f.store,
    {follow_kind},
    f.order_id,
    f.entity_id,
    COALESCE(
        (SELECT MAX(te.severity) FROM tracking_exceptions te
         WHERE te.store = f.store AND te.order_id || ':' || te.tracking_number = f.entity_id
           AND te.exception_type = {exception_type} AND te.resolved_at IS NULL),
        CASE WHEN f.due_at IS NULL THEN 'action' ELSE {fu_severity} END
    ),
    f.due_at,
    {fu_hours},
    f.opened_at,
    f.summary
FROM follow_ups f
WHERE f.resolved_at IS NULL
UNION ALL
SELECT
    te.store,
    'tracking_exception',
    te.order_id,
    te.order_id || ':' || te.tracking_number,
    te.severity,
    te.deadline_at,
    {te_hours},
    te.opened_at,
    te.details
FROM tracking_exceptions te
WHERE te.resolved_at IS NULL AND NOT EXISTS (
    SELECT 1 FROM follow_ups f
    WHERE f.store = te.store AND f.resolved_at IS NULL AND f.entity_id = te.order_id || ':' || te.tracking_number
)
) a
""",
            view=ACTION_VIEW,
            quarantine_severity=_severity("q.hours_left"),
            at_risk_hours=AT_RISK_HOURS_DEFAULT,
            pending_hours=PENDING_AT_WISH_HOURS,
            sent_hours=hours_since_sql(dialect, "s.submitted_at"),
            follow_kind=_ACTION_KIND_OF_FOLLOW_UP,
            exception_type=_EXCEPTION_TYPE_OF_FOLLOW_UP,
            fu_severity=_severity(hours_left_sql(dialect, "f.due_at")),
            fu_hours=hours_left_sql(dialect, "f.due_at"),
            te_hours=hours_left_sql(dialect, "te.deadline_at"),
        )
    ]


def action_drop_statements() -> list[str]:
    """SQL that drops the action-items view (before its tables change, in migrations and tests)."""
    return [constant_sql("DROP VIEW IF EXISTS {view}", view=ACTION_VIEW)]
