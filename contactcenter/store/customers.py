"""The CRM record used for screen pops: lookup by caller number (ANI) or account number,
the customer's recent contacts, and upserts for seeding and integrations."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contactcenter.store.db import Queryable, transaction
from contactcenter.store.interactions import Interaction, customer_interactions

ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,64}$"
MAX_PHONE_DIGITS = 15  # E.164
MIN_PHONE_DIGITS = 3
# how many trailing digits must agree when one side lacks the country code
TAIL_DIGITS = 9

_SEPARATORS = re.compile(r"[\s\-.()/]")
_EXTENSION = re.compile(r"(;|,|#|ext\.?|x).*$")


class DuplicateAccountNumber(ValueError):
    """Another customer already has this account number."""


def normalize_phone(raw: str | None) -> str | None:
    """A phone number as stored and compared: ``+`` and digits (E.164) when the country
    code is known, digits otherwise; None for no usable number ("anonymous", "")."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    for scheme in ("tel:", "sips:", "sip:"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.split("@", 1)[0]
    text = _EXTENSION.sub("", _SEPARATORS.sub("", text))
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not digits.isascii():
        return None
    if not plus and digits.startswith("00"):  # international dialling prefix
        plus, digits = True, digits[2:]
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return f"+{digits}" if plus else digits


def phones_match(a: str, b: str) -> bool:
    """Whether two normalized numbers are the same line, allowing one of them to be
    written without its country code (possibly with a national trunk prefix 0)."""
    if a == b:
        return True
    if a.startswith("+") and b.startswith("+"):
        return False  # both fully qualified: must be identical
    national = [p[1:] if p.startswith(("+", "0")) else p for p in (a, b)]
    short, long = sorted(national, key=len)
    return len(short) >= TAIL_DIGITS and long.endswith(short)


class CustomerIn(BaseModel):
    """A customer to create or update (seed files, CRM sync, admin API)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=ID_PATTERN)
    """None: found by account number, or a new id is generated."""
    account_number: str | None = Field(None, min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = []
    tier: str | None = Field(None, min_length=1, max_length=64)
    value_segment: str | None = Field(None, min_length=1, max_length=64)
    attributes: dict[str, Any] = {}

    @field_validator("phones")
    @classmethod
    def _normalize_phones(cls, phones: list[str]) -> list[str]:
        result: list[str] = []
        for raw in phones:
            phone = normalize_phone(raw)
            if phone is None:
                raise ValueError(
                    f"{raw!r} is not a phone number; use digits with an "
                    "optional leading + and country code, e.g. +14155550100"
                )
            if phone not in result:
                result.append(phone)
        return result


class Customer(BaseModel):
    id: str
    account_number: str | None
    name: str
    phones: list[str]
    tier: str | None
    value_segment: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


_SELECT = """
    SELECT c.id, c.account_number, c.name, c.tier, c.value_segment, c.attributes,
           c.created_at, c.updated_at,
           array(SELECT p.phone FROM customer_phones p
                 WHERE p.customer_id = c.id ORDER BY p.position, p.phone) AS phones
    FROM customers c
"""


def _customer(row: asyncpg.Record | Mapping[str, Any]) -> Customer:
    return Customer.model_validate(dict(row))


def new_customer_id() -> str:
    return f"cus_{secrets.token_hex(8)}"


async def upsert_customer(db: Queryable, customer: CustomerIn) -> Customer:
    """Create or replace a customer (phones are replaced as a set); the stored record."""
    values = (
        customer.account_number,
        customer.name,
        customer.tier,
        customer.value_segment,
        customer.attributes,
    )
    update = """name = EXCLUDED.name, tier = EXCLUDED.tier,
                value_segment = EXCLUDED.value_segment, attributes = EXCLUDED.attributes,
                updated_at = now()"""
    async with transaction(db) as conn:
        try:
            if customer.id is None and customer.account_number is not None:
                # keyed by account: concurrent seeders of one account agree on one row
                customer_id = await conn.fetchval(
                    f"""INSERT INTO customers (id, account_number, name, tier, value_segment,
                                               attributes)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        ON CONFLICT (account_number) DO UPDATE SET {update}
                        RETURNING id""",
                    new_customer_id(),
                    *values,
                )
            else:
                customer_id = await conn.fetchval(
                    f"""INSERT INTO customers (id, account_number, name, tier, value_segment,
                                               attributes)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        ON CONFLICT (id) DO UPDATE
                        SET account_number = EXCLUDED.account_number, {update}
                        RETURNING id""",
                    customer.id or new_customer_id(),
                    *values,
                )
        except asyncpg.UniqueViolationError:
            raise DuplicateAccountNumber(
                f"account number {customer.account_number!r} belongs to another customer"
            ) from None
        await conn.execute("DELETE FROM customer_phones WHERE customer_id = $1", customer_id)
        if customer.phones:
            await conn.execute(
                """INSERT INTO customer_phones (phone, customer_id, position)
                   SELECT phone, $2, position - 1
                   FROM unnest($1::text[]) WITH ORDINALITY AS u(phone, position)""",
                customer.phones,
                customer_id,
            )
        row = await conn.fetchrow(f"{_SELECT} WHERE c.id = $1", customer_id)
    assert row is not None  # written above, in the same transaction
    return _customer(row)


async def get_customer(db: Queryable, customer_id: str) -> Customer | None:
    row = await db.fetchrow(f"{_SELECT} WHERE c.id = $1", customer_id)
    return None if row is None else _customer(row)


async def find_by_account(db: Queryable, account_number: str) -> Customer | None:
    row = await db.fetchrow(f"{_SELECT} WHERE c.account_number = $1", account_number)
    return None if row is None else _customer(row)


async def find_by_ani(db: Queryable, ani: str | None) -> list[Customer]:
    """Customers with this phone number, most recently updated first.

    An exact match on the normalized number wins; failing that, numbers that differ only
    in a missing country code or trunk prefix match. Several results mean a shared line:
    the agent picks one.
    """
    phone = normalize_phone(ani)
    if phone is None:
        return []
    tail = phone[-TAIL_DIGITS:] if len(phone.lstrip("+")) >= TAIL_DIGITS else None
    # One round trip for both kinds of match (this runs for every call that arrives):
    # the exact and the same-tail candidates, sorted out here.
    rows = await db.fetch(
        f"""{_SELECT}
            WHERE c.id IN (SELECT customer_id FROM customer_phones
                           WHERE phone = $1 OR phone_tail = $2::text)
            ORDER BY c.updated_at DESC, c.id""",
        phone,
        tail,
    )
    found = [_customer(r) for r in rows]
    exact = [c for c in found if phone in c.phones]
    if exact:
        return exact
    return [c for c in found if any(phones_match(p, phone) for p in c.phones)]


class CallerMatch(BaseModel):
    """What ``find_caller`` learned about an arriving call."""

    duplicate: bool
    """An interaction with this contact id exists already (the id was used before)."""
    customer: Customer | None = None
    matches: int = 0
    """Customers that matched (more than one: a shared number; ``customer`` is the first)."""


async def find_caller(
    db: Queryable, contact_id: str, *, account: str | None = None, ani: str | None = None
) -> CallerMatch:
    """Everything a call's arrival needs from the database, in one round trip: whether its
    id was used before, and its customer by account number, else by ANI (matched as
    ``find_by_ani`` does)."""
    phone = normalize_phone(ani)
    tail = phone[-TAIL_DIGITS:] if phone and len(phone.lstrip("+")) >= TAIL_DIGITS else None
    rows = await db.fetch(
        f"""SELECT d.duplicate, m.*
            FROM (SELECT EXISTS (SELECT 1 FROM interactions WHERE contact_id = $1)
                         AS duplicate) d
            LEFT JOIN LATERAL (
                {_SELECT}
                -- a union, not an OR across the two tables, so that each part uses its
                -- index (an OR here scans every customer)
                WHERE c.id IN (SELECT id FROM customers WHERE account_number = $2::text
                               UNION
                               SELECT customer_id FROM customer_phones
                               WHERE phone = $3::text OR phone_tail = $4::text)
                ORDER BY c.updated_at DESC, c.id
            ) m ON true""",
        contact_id,
        account,
        phone,
        tail,
    )
    duplicate = bool(rows[0]["duplicate"])
    found = [
        _customer({k: v for k, v in r.items() if k != "duplicate"})
        for r in rows
        if r["id"] is not None
    ]
    if account is not None:
        by_account = [c for c in found if c.account_number == account]
        if by_account:
            return CallerMatch(duplicate=duplicate, customer=by_account[0], matches=1)
    if phone is None:
        return CallerMatch(duplicate=duplicate)
    exact = [c for c in found if phone in c.phones]
    matched = exact or [c for c in found if any(phones_match(x, phone) for x in c.phones)]
    return CallerMatch(
        duplicate=duplicate, customer=matched[0] if matched else None, matches=len(matched)
    )


async def recent_interactions(
    db: Queryable, customer_id: str, *, limit: int = 5
) -> list[Interaction]:
    """The customer's last ``limit`` contacts, newest first, with disposition and notes."""
    return await customer_interactions(db, customer_id, limit=limit)


async def delete_customer(db: Queryable, customer_id: str) -> bool:
    """Remove a customer and their numbers (past interactions keep the bare id)."""
    status = await db.execute("DELETE FROM customers WHERE id = $1", customer_id)
    return bool(status == "DELETE 1")
