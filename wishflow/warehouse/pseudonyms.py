"""Pseudonymous customer keys: the same recipient gets the same key, and the key says nothing.

A key is the md5 of the warehouse's secret salt and the recipient's normalised name, street lines,
postcode and country (lower case, single spaces). Without the salt, which analysts cannot read, a key
cannot be recomputed from a guessed name and address. Keys are computed in Python (SQLite has no
hash function) and kept in ``customer_keys``, so an order keeps its key after retention blanks the
fields it was computed from. The follow-up flow refreshes them before retention runs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from wishflow.warehouse.analytics_schema import customer_keys, pseudonym_salts
from wishflow.warehouse.bulk import dialect_insert
from wishflow.warehouse.schema import orders

_SPACES = re.compile(r"\s+")
BATCH = 5_000


def _norm(value: object) -> str:
    return _SPACES.sub(" ", str(value or "")).strip().lower()


def customer_key(salt: str, name: object, street: tuple[object, ...], zipcode: object, country: object) -> str:
    """The key of one recipient (32 hex characters)."""
    parts = [_norm(name), *(_norm(s) for s in street), _norm(zipcode).replace(" ", ""), _norm(country)]
    return hashlib.md5((salt + "\x1f" + "\x1f".join(parts)).encode(), usedforsecurity=False).hexdigest()


def warehouse_salt(conn: Connection) -> str:
    """The warehouse's salt, drawn (256 random bits) the first time it is needed."""
    salt = conn.execute(sa.select(pseudonym_salts.c.salt).where(pseudonym_salts.c.salt_id == 1)).scalar()
    if salt is None:
        conn.execute(
            dialect_insert(conn, pseudonym_salts)
            .values(salt_id=1, salt=secrets.token_hex(32), created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["salt_id"])
        )
        salt = conn.execute(sa.select(pseudonym_salts.c.salt).where(pseudonym_salts.c.salt_id == 1)).scalar_one()
    return str(salt)


def refresh_customer_keys(engine: Engine, store: str | None = None) -> int:
    """Compute the key of every order that has a recipient and no key yet; the keys written."""
    o, k = orders.c, customer_keys.c
    written = 0
    while True:
        with engine.begin() as conn:
            salt = warehouse_salt(conn)
            rows = conn.execute(
                sa.select(
                    o.store,
                    o.order_id,
                    o.recipient_name,
                    o.street_address1,
                    o.street_address2,
                    o.street_address3,
                    o.zipcode,
                    o.country_code,
                )
                .select_from(orders.outerjoin(customer_keys, sa.and_(k.store == o.store, k.order_id == o.order_id)))
                .where(k.order_id.is_(None), o.recipient_name.is_not(None), *([o.store == store] if store else []))
                .limit(BATCH)
            ).all()
            if not rows:
                return written
            now = datetime.now(UTC)
            conn.execute(
                dialect_insert(conn, customer_keys)
                .values(
                    [
                        {
                            "store": r.store,
                            "order_id": r.order_id,
                            "customer_key": customer_key(
                                salt,
                                r.recipient_name,
                                (r.street_address1, r.street_address2, r.street_address3),
                                r.zipcode,
                                r.country_code,
                            ),
                            "computed_at": now,
                        }
                        for r in rows
                    ]
                )
                .on_conflict_do_nothing(index_elements=["store", "order_id"])
            )
            written += len(rows)
