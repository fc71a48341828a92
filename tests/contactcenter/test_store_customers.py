"""The CRM: phone normalization, ANI and account lookups, history, upserts."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from pydantic import ValidationError

from contactcenter.store.customers import (
    CustomerIn,
    DuplicateAccountNumber,
    delete_customer,
    find_by_account,
    find_by_ani,
    find_caller,
    get_customer,
    normalize_phone,
    phones_match,
    recent_interactions,
    upsert_customer,
)
from contactcenter.store.events import EventLog
from contactcenter.store.records import EventRecord


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (415) 555-0100", "+14155550100"),
        ("415.555.0100", "4155550100"),
        ("0044 20 7946 0018", "+442079460018"),
        ("tel:+44-20-7946-0018", "+442079460018"),
        ("sip:+14155550100@carrier.example;user=phone", "+14155550100"),
        ("415-555-0100 x23", "4155550100"),
        ("  020 7946 0018 ", "02079460018"),
        ("anonymous", None),
        ("", None),
        (None, None),
        ("12", None),
        ("+1234567890123456", None),
        ("1+2", None),
        ("٤١٥٥٥٥٠١٠٠", None),
    ],
)
def test_normalize_phone(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_phones_match() -> None:
    assert phones_match("+14155550100", "4155550100")
    assert phones_match("+442079460018", "02079460018")
    assert phones_match("14155550100", "4155550100")
    assert not phones_match("+14155550100", "+24155550100")  # two countries
    assert not phones_match("5550100", "+15550100")  # too short to trust a suffix


def alice(**changes: object) -> CustomerIn:
    base: dict[str, object] = {
        "id": "cus_alice",
        "account_number": "ACC-1",
        "name": "Alice Ng",
        "phones": ["+1 415 555 0100", "(415) 555-0199"],
        "tier": "gold",
        "value_segment": "high",
        "attributes": {"language": "en", "vip": True},
    }
    return CustomerIn.model_validate(base | changes)


async def test_upsert_and_lookups(db: asyncpg.Pool) -> None:
    created = await upsert_customer(db, alice())
    assert created.phones == ["+14155550100", "4155550199"]
    assert created.attributes == {"language": "en", "vip": True}
    assert await get_customer(db, "cus_alice") == created
    assert await find_by_account(db, "ACC-1") == created
    assert await find_by_account(db, "ACC-404") is None

    assert [c.id for c in await find_by_ani(db, "+14155550100")] == ["cus_alice"]
    assert [c.id for c in await find_by_ani(db, "tel:4155550100")] == ["cus_alice"]
    assert [c.id for c in await find_by_ani(db, "+1 415 555 0199")] == ["cus_alice"]
    assert await find_by_ani(db, "+44 415 555 0100") == []  # other country, both qualified
    assert await find_by_ani(db, "anonymous") == []
    assert await find_by_ani(db, "+15550000000") == []


async def test_upsert_replaces_fields_and_phones(db: asyncpg.Pool) -> None:
    await upsert_customer(db, alice())
    updated = await upsert_customer(db, alice(phones=["+1 212 555 0123"], tier="platinum"))
    assert updated.tier == "platinum"
    assert updated.phones == ["+12125550123"]
    assert await find_by_ani(db, "+14155550100") == []
    assert updated.updated_at >= updated.created_at


async def test_upsert_by_account_number_and_generated_ids(db: asyncpg.Pool) -> None:
    # concurrent seeders of the same account agree on one customer
    results = await asyncio.gather(
        *(upsert_customer(db, CustomerIn(account_number="ACC-9", name=f"Bo {i}")) for i in range(5))
    )
    assert len({c.id for c in results}) == 1
    assert results[0].id.startswith("cus_")
    fresh = await upsert_customer(db, CustomerIn(name="No Account"))
    assert fresh.id != results[0].id and fresh.account_number is None


async def test_account_number_conflict(db: asyncpg.Pool) -> None:
    await upsert_customer(db, alice())
    with pytest.raises(DuplicateAccountNumber):
        await upsert_customer(db, alice(id="cus_other"))


async def test_shared_line_finds_every_customer(db: asyncpg.Pool) -> None:
    await upsert_customer(db, alice())
    await upsert_customer(db, CustomerIn(id="cus_bob", name="Bob Ng", phones=["4155550100"]))
    found = await find_by_ani(db, "+14155550100")
    # exact match wins: Alice's number is stored with the country code
    assert [c.id for c in found] == ["cus_alice"]
    found = await find_by_ani(db, "4155550100")
    assert [c.id for c in found] == ["cus_bob"]
    found = await find_by_ani(db, "14155550100")  # neither exact: both by suffix
    assert sorted(c.id for c in found) == ["cus_alice", "cus_bob"]


async def test_find_caller_matches_like_the_single_lookups(db: asyncpg.Pool) -> None:
    await upsert_customer(db, alice())
    await upsert_customer(
        db, CustomerIn(id="cus_bob", name="Bob Ng", phones=["4155550100"], account_number="ACC-2")
    )
    for ani in ("+14155550100", "4155550100", "14155550100", "+44 415 555 0100", "anonymous", None):
        found = await find_by_ani(db, ani)
        caller = await find_caller(db, "call-1", ani=ani)
        assert caller.duplicate is False
        assert caller.matches == len(found), ani
        assert caller.customer == (found[0] if found else None), ani
    # the account number comes first, then the ANI
    by_account = await find_caller(db, "call-1", account="ACC-2", ani="+14155550100")
    assert by_account.customer is not None and by_account.customer.id == "cus_bob"
    assert by_account.matches == 1
    fallback = await find_caller(db, "call-1", account="ACC-404", ani="+14155550100")
    assert fallback.customer is not None and fallback.customer.id == "cus_alice"
    assert (await find_caller(db, "call-1", account="ACC-404")).customer is None
    # an id the call log knows is a duplicate, whoever the caller is
    async with EventLog(db) as log:
        await log.append(
            [
                EventRecord(
                    type="contact.arrived",
                    ts=1.0,
                    contact_id="call-1",
                    queue_id="sales",
                    data={"channel": "voice"},
                )
            ]
        )
    assert (await find_caller(db, "call-1", ani="+14155550100")).duplicate is True
    assert (await find_caller(db, "call-1")).duplicate is True
    assert (await find_caller(db, "call-2")).duplicate is False


def test_customer_validation() -> None:
    with pytest.raises(ValidationError, match="not a phone number"):
        CustomerIn(name="X", phones=["call me"])
    with pytest.raises(ValidationError):
        CustomerIn(name="")
    with pytest.raises(ValidationError):
        CustomerIn(id="bad id", name="X")
    assert CustomerIn(name="X", phones=["+1 415 555 0100", "+14155550100"]).phones == [
        "+14155550100"
    ]


async def test_recent_interactions_newest_first(db: asyncpg.Pool) -> None:
    await upsert_customer(db, alice())
    records = []
    for i in range(7):
        t = 1_700_000_000.0 + i * 3600
        contact = f"c{i}"
        records += [
            EventRecord(
                type="contact.arrived",
                ts=t,
                contact_id=contact,
                data={
                    "channel": "voice",
                    "direction": "inbound",
                    "ani": "+14155550100",
                    "customer_id": "cus_alice",
                },
            ),
            EventRecord(
                type="contact.answered",
                ts=t + 10,
                contact_id=contact,
                agent_id="a1",
                data={"wait_s": 10.0},
            ),
            EventRecord(type="contact.ended", ts=t + 100, contact_id=contact, agent_id="a1"),
            EventRecord(
                type="wrapup.completed",
                ts=t + 120,
                contact_id=contact,
                agent_id="a1",
                data={"disposition": f"d{i}", "notes": f"n{i}"},
            ),
        ]
    records.append(
        EventRecord(
            type="contact.arrived",
            ts=1_800_000_000.0,
            contact_id="other",
            data={"customer_id": "cus_bob"},
        )
    )
    async with EventLog(db) as log:
        await log.append(records)
    history = await recent_interactions(db, "cus_alice", limit=5)
    assert [h.contact_id for h in history] == ["c6", "c5", "c4", "c3", "c2"]
    assert [(h.disposition, h.notes) for h in history[:2]] == [("d6", "n6"), ("d5", "n5")]
    assert history[0].talk_s == pytest.approx(90.0)


async def test_delete_keeps_history(db: asyncpg.Pool) -> None:
    await upsert_customer(db, alice())
    assert await delete_customer(db, "cus_alice")
    assert not await delete_customer(db, "cus_alice")
    assert await find_by_ani(db, "+14155550100") == []
