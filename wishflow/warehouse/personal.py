"""Which warehouse columns hold customers' personal data, as data.

The dictionary marks them, the analytics views leave them out (or reduce them), and retention blanks
them.

``PERSONAL`` columns identify or locate a person directly. ``FREE_TEXT`` columns are written by or
for a customer and may contain anything (a name, an address, a phone number). ``PAYLOAD`` columns
keep a document exactly as received, personal fields included.
"""

from __future__ import annotations

PERSONAL = "personal"
FREE_TEXT = "free text"
PAYLOAD = "payload"

#: (table, column) -> kind
PERSONAL_COLUMNS: dict[tuple[str, str], str] = {
    ("orders", "recipient_name"): PERSONAL,
    ("orders", "street_address1"): PERSONAL,
    ("orders", "street_address2"): PERSONAL,
    ("orders", "street_address3"): PERSONAL,
    ("orders", "city"): PERSONAL,
    ("orders", "zipcode"): PERSONAL,
    ("orders", "phone_number"): PERSONAL,
    ("orders", "raw"): PAYLOAD,
    ("refunds", "refund_reason_note"): FREE_TEXT,
    ("refunds", "raw"): PAYLOAD,
    ("tickets", "subject"): FREE_TEXT,
    ("tickets", "raw"): PAYLOAD,
    ("ticket_replies", "message"): FREE_TEXT,
    ("penalties", "raw"): PAYLOAD,
    ("address_changes", "address"): PERSONAL,
    ("address_changes", "previous_address"): PERSONAL,
    ("shipments", "ship_note"): FREE_TEXT,
    ("rejected_records", "raw"): PAYLOAD,
    ("rejected_records", "reason"): FREE_TEXT,
    ("order_validation_failures", "observed_value"): FREE_TEXT,
    ("validation_runs", "gx_result"): PAYLOAD,
    ("pipeline_runs", "error"): FREE_TEXT,
    ("follow_ups", "summary"): FREE_TEXT,
}

#: the personal columns of ``orders`` that retention blanks (``raw`` is trimmed instead)
ORDER_PERSONAL_COLUMNS = tuple(
    column for (table, column), kind in PERSONAL_COLUMNS.items() if table == "orders" and kind == PERSONAL
)

#: keys of an order payload that hold personal data (anywhere in the document)
PERSONAL_PAYLOAD_KEYS = frozenset(
    {
        "name",
        "recipient_name",
        "street_address1",
        "street_address2",
        "street_address3",
        "city",
        "zipcode",
        "phone_number",
        "phone",
        "email",
    }
)


def personal_mark(table: str, column: str) -> str:
    """The dictionary's mark for a column: ``**personal** `` etc., or nothing."""
    kind = PERSONAL_COLUMNS.get((table, column))
    return f"**{kind}** " if kind else ""
