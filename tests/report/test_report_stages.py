"""The report covers every stage with the same numbers as the views and ``wishflow todo``, and says
under each chart what it shows.
"""

from __future__ import annotations

import sqlalchemy as sa
from markupsafe import escape

from tests.actions.test_action_items import STORE, _seed
from wishflow.actions import action_items, queue_counts
from wishflow.report.data import collect
from wishflow.report.html import CAPTIONS, render


def test_the_report_shows_the_action_list_and_open_quarantine_by_rule(engine: sa.Engine) -> None:
    _seed(engine)
    data = collect(engine, store=STORE, days=3650)
    counts = queue_counts(engine, STORE)
    summary = data.summary()
    assert (
        (summary["quarantined"], summary["waiting_to_ship"], summary["at_risk"])
        == (
            counts.quarantined,
            counts.waiting_to_ship,
            counts.at_risk,
        )
        == (2, 2, 1)  # held-overdue is quarantined, never also at risk
    )
    assert data.actions_by_kind == counts.actions
    assert data.quarantine_by_rule == {"country_code_valid": 1, "zipcode_required": 1}  # the shipped one is not
    assert [(i["kind"], i["order_id"]) for i in data.action_items] == [
        (i["kind"], i["order_id"]) for i in action_items(engine, STORE)
    ]

    html = render(data)
    for section in ('id="todo"', 'id="quarantine"', 'id="action-items"', 'id="quarantine-by-rule"'):
        assert section in html
    for kind in ("tickets awaiting the merchant", "penalties to review", "tracking exceptions (follow-ups)"):
        assert f"<td>{kind}</td><td>1</td>" in html
    assert html.count("<figcaption>") == len(CAPTIONS)
    for caption in CAPTIONS.values():
        assert f"<figcaption>{escape(caption)}</figcaption>" in html
    assert "<script" not in html
    assert "&lt;" not in html.split("<body>")[0]
