"""``contactcenter seed-demo``: users, agent profiles and customers for a demo.

Passwords are generated and printed once, for the demo only; only their hashes are stored.
Running it again resets the demo users' passwords (and prints the new ones) and updates
their profiles; nothing else in the database is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

from contactcenter.auth import Role
from contactcenter.settings import SettingsError, load_settings
from contactcenter.store import DatabaseUnavailable, open_database
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.db import Queryable
from contactcenter.store.users import (
    AgentProfileIn,
    UserExists,
    create_user,
    get_user_by_username,
    save_agent_profile,
    set_password,
)

# skills match the queues of config/routing.yaml (sales, support, billing, chat_support)
DEMO_AGENTS: list[tuple[str, str, str, dict[str, int], dict[str, int], list[str]]] = [
    ("alice", "Alice Archer", "blue", {"sales": 8, "support": 3}, {"voice": 1}, ["en"]),
    ("bob", "Bob Baker", "blue", {"sales": 4, "billing": 6}, {"voice": 1}, ["en", "es"]),
    (
        "carol",
        "Carol Chen",
        "green",
        {"support": 7, "billing": 3},
        {"voice": 1, "chat": 3},
        ["en", "fr"],
    ),
    ("dave", "Dave Diaz", "green", {"support": 4, "sales": 3}, {"voice": 1, "chat": 2}, ["en"]),
]
DEMO_STAFF: list[tuple[str, str, Role]] = [
    ("admin", "Administrator", "admin"),
    ("supervisor", "Sam Supervisor", "supervisor"),
]
DEMO_CUSTOMERS = [
    CustomerIn(
        account_number="ACC-1001",
        name="Ada Lovelace",
        tier="gold",
        value_segment="high",
        phones=["+14155550101"],
    ),
    CustomerIn(
        account_number="ACC-1002",
        name="Grace Hopper",
        tier="silver",
        phones=["+14155550102", "+14155550112"],
    ),
    CustomerIn(
        account_number="ACC-1003", name="Alan Turing", tier="bronze", phones=["+442071234501"]
    ),
    CustomerIn(
        account_number="ACC-1004",
        name="Katherine Johnson",
        tier="gold",
        value_segment="high",
        phones=["+17575550104"],
    ),
]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "seed-demo",
        help="create demo users (printing their passwords), agent profiles and customers",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with await open_database(settings, migrate=True) as db:
            await seed(db.pool)

    try:
        asyncio.run(main())
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


async def _user(db: Queryable, username: str, display: str, role: Role) -> str:
    password = secrets.token_urlsafe(9)
    try:
        await create_user(db, username=username, password=password, role=role, display_name=display)
    except UserExists:
        user = await get_user_by_username(db, username)
        assert user is not None
        await set_password(db, user.id, password)
    return password


async def seed(db: Queryable) -> None:
    print("Demo users (passwords shown once, for this demo only):")
    for username, display, role in DEMO_STAFF:
        print(f"  {username:<12} {role:<11} {await _user(db, username, display, role)}")
    for number, (username, display, team, skills, capacity, languages) in enumerate(DEMO_AGENTS, 1):
        password = await _user(db, username, display, "agent")
        await save_agent_profile(
            db,
            username,
            AgentProfileIn(
                team=team,
                skills=skills,
                capacity=capacity,
                extension=f"{1000 + number}",
                languages=languages,
            ),
        )
        print(f"  {username:<12} {'agent':<11} {password}   skills {skills}")
    for customer in DEMO_CUSTOMERS:
        await upsert_customer(db, customer)
    print(
        f"{len(DEMO_CUSTOMERS)} customers, e.g. {DEMO_CUSTOMERS[0].name} calling from "
        f"{DEMO_CUSTOMERS[0].phones[0]}."
    )
