"""The sync engine: a stream read a page per call (a task's chunk) from the position the last call
returned records what one call reading everything records, and its cursor follows the shared rules.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tracking"))

from track_helpers import STORE, advance, create_orders, fates, freeze, make_client, snapshot, wish_now  # noqa: E402

from wishflow.aftersales.tickets import TICKETS  # noqa: E402
from wishflow.sandbox.core import TICKET_STATES  # noqa: E402
from wishflow.sandbox.ties import open_tickets_at  # noqa: E402
from wishflow.sandbox.timeutil import dt_to_ms  # noqa: E402
from wishflow.sync.engine import plan, run_pages  # noqa: E402
from wishflow.warehouse.aftersales_schema import tickets  # noqa: E402
from wishflow.warehouse.orders_writer import read_cursor  # noqa: E402


def test_chunks_of_one_page_resume_where_the_last_ended(sandbox: Any, engine: sa.Engine) -> None:
    freeze(sandbox)
    with fates(sandbox), make_client(sandbox) as client:
        ids = create_orders(sandbox, 90)
        open_tickets_at(sandbox.sandbox, ids[:30], dt_to_ms(wish_now(client)), states=TICKET_STATES)
        advance(sandbox, seconds=2)
        open_tickets_at(sandbox.sandbox, ids[30:], dt_to_ms(wish_now(client)), states=TICKET_STATES)  # a tie of 60
        advance(sandbox, minutes=5)
        now = wish_now(client)
        window = plan(TICKETS, engine, STORE, server_now=now)
        assert window.start is None  # no cursor yet
        assert window.end < now  # the safety lag
        position = None
        calls = 0
        while True:
            chunk = run_pages(TICKETS, client, engine, STORE, window, position, max_pages=1, page_size=20)
            calls += 1
            assert chunk.pages == 1
            assert chunk.unresolved == 0
            position = chunk.next_position
            if position is None:
                break
        assert calls >= 3
        rows = snapshot(engine, [tickets])["tickets"]
        assert len(rows) == 90
        cursor = read_cursor(engine, STORE, TICKETS.name)
        assert cursor is not None
        assert cursor <= window.end
        again = run_pages(TICKETS, client, engine, STORE, plan(TICKETS, engine, STORE, server_now=wish_now(client)))
        assert again.count("inserted") == again.count("updated") == 0
