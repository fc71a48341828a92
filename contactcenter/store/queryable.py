"""What the store functions run their statements on: a pool or one connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""One connection: a direct one, or one acquired from the pool."""
Queryable = asyncpg.Pool | Connection
"""What the store functions need: a pool or one connection (inside a transaction, say).
Rows come back as ``asyncpg.Record``; the stubs' record parameter defaults to it."""


@asynccontextmanager
async def connection(db: Queryable) -> AsyncIterator[Connection]:
    """One connection: acquired from ``db`` when it is a pool, ``db`` itself otherwise."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db


@asynccontextmanager
async def transaction(db: Queryable) -> AsyncIterator[Connection]:
    """A connection inside a transaction (nested as a savepoint if one is already open)."""
    async with connection(db) as conn, conn.transaction():
        yield conn
