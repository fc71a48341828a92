"""PostgreSQL persistence. The only package that talks to the database (through asyncpg).

Modules: ``db`` (pool, embedded server), ``migrate`` (schema), ``records`` and ``events``
(the event log), ``interactions`` (call log derived from it), ``customers`` (CRM),
``users`` (logins and agent profiles).
"""

from contactcenter.store.db import Database, DatabaseUnavailable, open_database
from contactcenter.store.events import (
    EventLog,
    EventLogOutcomeUnknown,
    EventLogStopped,
    EventLogWriteError,
)
from contactcenter.store.records import EventRecord, StoredEvent

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "EventLog",
    "EventLogOutcomeUnknown",
    "EventLogStopped",
    "EventLogWriteError",
    "EventRecord",
    "StoredEvent",
    "open_database",
]
