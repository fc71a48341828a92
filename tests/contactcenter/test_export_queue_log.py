"""The queue_log export, checked line by line against the event log of real calls.

Calls go through the real server (gateway HTTP, agent websockets, PostgreSQL); the expected
lines are written out here per scenario from the events the server logged, with waits and
talk times computed from the event timestamps, never taken from the exporter.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from contactcenter import cli
from contactcenter.export.cli import write_queue_log
from contactcenter.export.queue_log import queue_log_lines
from contactcenter.export.window import Window
from contactcenter.settings import Settings
from contactcenter.store import EventLog, EventRecord
from contactcenter.store.events import read_all_in_order, read_contact
from contactcenter.store.records import StoredEvent
from routing.policy import parse_routing_config
from tests.contactcenter.server_support import (
    Console,
    add_agent,
    console,
    gateway_headers,
    running_app,
)

CONFIG = parse_routing_config(
    """
reason_codes: [break, lunch]
queues:
  - id: main
    channel: voice
    skills: {main: 1}
    offer_timeout_s: 1.7  # c1 rings 1.1 s before its accept, c3 rings out
    wrap_up: {mode: none}
  - id: second
    channel: voice
    skills: {second: 1}
    wrap_up: {mode: none}
  - id: short
    channel: voice
    skills: {short: 1}
    max_wait: {seconds: 0.5, action: flow_out, target: voicemail}
""",
    "queue_log test config",
)


@dataclass(frozen=True)
class Expected:
    source: StoredEvent
    """The log event the line must come from: its epoch, and its place in the order."""
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[object, ...]

    def text(self) -> str:
        fields = [
            str(math.floor(self.source.ts)),
            self.callid,
            self.queue,
            self.agent,
            self.event,
            *("" if d is None else str(d) for d in self.data),
        ]
        return "|".join(fields)


class Log:
    """The whole event log, with finders for the event a line must come from."""

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = list(events)

    def contact(self, contact_id: str, kind: str, nth: int = 0) -> StoredEvent:
        found = [e for e in self.events if e.contact_id == contact_id and e.type == kind]
        assert len(found) > nth, f"{contact_id} has no {kind} #{nth}: {found}"
        return found[nth]

    def agent(self, agent_id: str, nth: int = 0, **data: Any) -> StoredEvent:
        found = [
            e
            for e in self.events
            if e.type == "agent.state_changed"
            and e.agent_id == agent_id
            and all(e.data.get(k) == v for k, v in data.items())
        ]
        assert len(found) > nth, f"{agent_id}: no state change #{nth} with {data}"
        return found[nth]


def secs(start: StoredEvent, end: StoredEvent) -> int:
    """Whole seconds between two events on the one-second clock of the epoch column."""
    return math.floor(end.ts) - math.floor(start.ts)


def ring_ms(start: StoredEvent, end: StoredEvent) -> int:
    return round((end.ts - start.ts) * 1000)


async def export(pool: asyncpg.Pool, since: float, until: float | None = None) -> list[str]:
    out = io.StringIO()
    window = Window(
        since=datetime.fromtimestamp(since, UTC),
        until=None if until is None else datetime.fromtimestamp(until, UTC),
    )
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        count = await write_queue_log(conn, window, out)
    lines = out.getvalue().splitlines()
    assert count == len(lines)
    return lines


async def wait_for_event(pool: asyncpg.Pool, contact_id: str, kind: str) -> None:
    deadline = time.monotonic() + 5
    while not any(e.type == kind for e in await read_contact(pool, contact_id)):
        assert time.monotonic() < deadline, f"{contact_id}: no {kind}"
        await asyncio.sleep(0.05)


async def ok(c: Console, kind: str, **fields: Any) -> None:
    reply = await c.command(kind, **fields)
    assert reply["type"] == "reply", reply


async def run_calls(pool: asyncpg.Pool, settings: Settings) -> None:
    """The scenarios, one after another (each is described where its lines are expected)."""
    await add_agent(pool, "ann", {"main": 5, "second": 5})
    await add_agent(pool, "ben", {"main": 5})
    gw = gateway_headers(settings)
    async with (
        running_app(settings, pool, CONFIG) as client,
        console(client, settings, "ann") as ann,
        console(client, settings, "ben") as ben,
    ):

        async def call(call_id: str, queue: str, ani: str | None = None) -> str:
            body: dict[str, Any] = {"call_id": call_id, "queue": queue}
            if ani is not None:
                body["ani"] = ani
            resp = await client.post("/gateway/calls", headers=gw, json=body)
            assert resp.status == 201, await resp.text()
            state: str = (await resp.json())["state"]
            return state

        async def hangup(call_id: str) -> None:
            resp = await client.post(f"/gateway/calls/{call_id}/hangup", headers=gw)
            assert resp.status == 200, await resp.text()

        await ok(ann, "set_status", status="available")
        await ok(ben, "set_status", status="break")

        # c6: nobody serves the short queue; it flows out after its max wait (it runs
        # beside c1, whose ring and talk take two seconds anyway)
        assert await call("c6", "short", "+1 415|555\n0106") == "queued"

        # c1: waits a second while it rings, talks a second, the caller hangs up
        assert await call("c1", "main", "+14155550101") == "offered"
        await ann.next("offer", contact_id="c1")
        await asyncio.sleep(1.1)
        await ok(ann, "accept", contact_id="c1")
        await asyncio.sleep(1.1)
        await hangup("c1")
        await ann.next("contact_state", contact_id="c1", state="wrap_up")
        await wait_for_event(pool, "c6", "contact.flowed_out")

        # c2: answered at once, the agent ends it
        assert await call("c2", "main", "+14155550102") == "offered"
        await ann.next("offer", contact_id="c2")
        await ok(ann, "accept", contact_id="c2")
        await ok(ann, "end", contact_id="c2")

        # c3 and c4 wait while everyone is on a break; c4 (second in line) hangs up
        await ok(ann, "set_status", status="break")
        assert await call("c3", "main", "+14155550103") == "queued"
        assert await call("c4", "main") == "queued"
        await asyncio.sleep(0.3)
        await hangup("c4")
        # c3 rings out at ann, is rejected by ben, then ann answers and transfers it to the
        # second queue, where ann takes it again and the caller hangs up
        await ok(ann, "set_status", status="available")
        await ann.next("offer", contact_id="c3")
        await ann.next("contact_state", contact_id="c3", state="offer_timed_out")
        await ok(ben, "set_status", status="available")
        await ben.next("offer", contact_id="c3")
        await ok(ben, "reject", contact_id="c3")
        await ok(ann, "set_status", status="available")
        await ann.next("offer", contact_id="c3")
        await ok(ann, "accept", contact_id="c3")
        await ok(ann, "transfer", contact_id="c3", to_queue="second")
        await ann.next("offer", contact_id="c3", queue="second")
        await ok(ann, "accept", contact_id="c3")
        await hangup("c3")

        # c5: answered by ann, who hands it straight to ben (no queue in between)
        assert await call("c5", "main") == "offered"
        await ann.next("offer", contact_id="c5")
        await ok(ann, "accept", contact_id="c5")
        await ok(ben, "set_status", status="available")
        await ok(ann, "transfer", contact_id="c5", to_agent="ben")
        await ben.next("offer", contact_id="c5")
        await ok(ben, "accept", contact_id="c5")
        await ok(ben, "end", contact_id="c5")

        await ok(ann, "set_status", status="offline")
        await ok(ben, "set_status", status="offline")


def expected_lines(log: Log) -> list[Expected]:
    c, a = log.contact, log.agent
    lines: list[Expected] = []

    def add(
        source: StoredEvent, callid: str, queue: str, agent: str, event: str, *data: object
    ) -> None:
        lines.append(Expected(source, callid, queue, agent, event, data))

    # logins: ann straight to available, ben to a break (a login, then a pause)
    add(
        a("ann", prev_status="offline", status="available"), "NONE", "NONE", "ann", "AGENTLOGIN", ""
    )
    ben_in = a("ben", prev_status="offline", status="break")
    add(ben_in, "NONE", "NONE", "ben", "AGENTLOGIN", "")
    add(ben_in, "NONE", "NONE", "ben", "PAUSE", "break")

    # c1: caller hangs up
    q, o, ans, end = (
        c("c1", "contact.queued"),
        c("c1", "contact.offered"),
        c("c1", "contact.answered"),
        c("c1", "contact.ended"),
    )
    assert end.data["ended_by"] == "customer"
    add(q, "c1", "main", "NONE", "ENTERQUEUE", "", "+14155550101")
    add(ans, "c1", "main", "ann", "CONNECT", secs(q, ans), "", secs(o, ans))
    add(end, "c1", "main", "ann", "COMPLETECALLER", secs(q, ans), secs(ans, end), 1)
    assert secs(q, ans) >= 1 and secs(ans, end) >= 1  # the sleeps are in the numbers

    # c2: the agent ends it
    q, o, ans, end = (
        c("c2", "contact.queued"),
        c("c2", "contact.offered"),
        c("c2", "contact.answered"),
        c("c2", "contact.ended"),
    )
    add(q, "c2", "main", "NONE", "ENTERQUEUE", "", "+14155550102")
    add(ans, "c2", "main", "ann", "CONNECT", secs(q, ans), "", secs(o, ans))
    add(end, "c2", "main", "ann", "COMPLETEAGENT", secs(q, ans), secs(ans, end), 1)

    # c3, c4: two callers wait during the breaks; c4 abandons from position 2
    add(a("ann", prev_status="available", status="break"), "NONE", "NONE", "ann", "PAUSE", "break")
    q3, q4 = c("c3", "contact.queued"), c("c4", "contact.queued")
    add(q3, "c3", "main", "NONE", "ENTERQUEUE", "", "+14155550103")
    add(q4, "c4", "main", "NONE", "ENTERQUEUE", "", "")
    gone = c("c4", "contact.abandoned")
    add(gone, "c4", "main", "NONE", "ABANDON", 2, 2, secs(q4, gone))

    # c3 rings out at ann (ann is paused as not responding), ben rejects it
    add(
        a("ann", prev_status="break", status="available"), "NONE", "NONE", "ann", "UNPAUSE", "break"
    )
    timed_out = c("c3", "offer.timed_out")
    add(
        timed_out,
        "c3",
        "main",
        "ann",
        "RINGNOANSWER",
        ring_ms(c("c3", "contact.offered", 0), timed_out),
    )
    add(a("ann", activity="not_responding"), "NONE", "NONE", "ann", "PAUSE", "not_responding")
    add(
        a("ben", prev_status="break", status="available"), "NONE", "NONE", "ben", "UNPAUSE", "break"
    )
    rejected = c("c3", "offer.rejected")
    assert rejected.agent_id == "ben"
    add(
        rejected,
        "c3",
        "main",
        "ben",
        "RINGNOANSWER",
        ring_ms(c("c3", "contact.offered", 1), rejected),
    )
    add(a("ben", activity="not_responding"), "NONE", "NONE", "ben", "PAUSE", "not_responding")
    add(
        a("ann", prev_activity="not_responding"), "NONE", "NONE", "ann", "UNPAUSE", "not_responding"
    )
    # ann answers, then transfers it to the second queue, where ann takes it again
    ans, moved = c("c3", "contact.answered", 0), c("c3", "contact.transferred")
    add(
        ans,
        "c3",
        "main",
        "ann",
        "CONNECT",
        secs(q3, ans),
        "",
        secs(c("c3", "contact.offered", 2), ans),
    )
    add(
        moved,
        "c3",
        "main",
        "ann",
        "BLINDTRANSFER",
        "second",
        "queue",
        secs(q3, ans),
        secs(ans, moved),
        1,
    )
    assert secs(q3, ans) >= 1  # two ring-outs and the breaks came first
    q3b, ans_b, end = (
        c("c3", "contact.queued", 1),
        c("c3", "contact.answered", 1),
        c("c3", "contact.ended"),
    )
    add(q3b, "c3", "second", "NONE", "ENTERQUEUE", "", "+14155550103")
    add(
        ans_b,
        "c3",
        "second",
        "ann",
        "CONNECT",
        secs(q3b, ans_b),
        "",
        secs(c("c3", "contact.offered", 3), ans_b),
    )
    add(end, "c3", "second", "ann", "COMPLETECALLER", secs(q3b, ans_b), secs(ans_b, end), 1)

    # c5: blind transfer to ben; ben's leg is not a queue call and writes nothing
    q, ans, moved = (
        c("c5", "contact.queued"),
        c("c5", "contact.answered"),
        c("c5", "contact.transferred"),
    )
    add(q, "c5", "main", "NONE", "ENTERQUEUE", "", "")
    add(
        ans, "c5", "main", "ann", "CONNECT", secs(q, ans), "", secs(c("c5", "contact.offered"), ans)
    )
    add(
        a("ben", prev_activity="not_responding"), "NONE", "NONE", "ben", "UNPAUSE", "not_responding"
    )
    add(
        moved,
        "c5",
        "main",
        "ann",
        "BLINDTRANSFER",
        "ben",
        "agent",
        secs(q, ans),
        secs(ans, moved),
        1,
    )

    # c6: flows out after the short queue's max wait; the unsafe caller id is made safe
    q, out = c("c6", "contact.queued"), c("c6", "contact.flowed_out")
    add(q, "c6", "short", "NONE", "ENTERQUEUE", "", "+1 415 555 0106")
    add(out, "c6", "short", "NONE", "EXITWITHTIMEOUT", 1, 1, secs(q, out))

    # logoffs, with the time logged in
    for agent in ("ann", "ben"):
        login = a(agent, prev_status="offline")
        logoff = a(agent, status="offline", prev_status="available")
        add(logoff, "NONE", "NONE", agent, "AGENTLOGOFF", "", secs(login, logoff))

    # the log's order; lines of one event keep the order written above
    order = {id(line): i for i, line in enumerate(lines)}
    return sorted(lines, key=lambda line: (line.source.seq, order[id(line)]))


async def test_queue_log_matches_the_event_log_line_by_line(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    started = time.time()
    await run_calls(db, cc_settings)
    log = Log([e async for e in read_all_in_order(db)])
    expected = expected_lines(log)

    lines = await export(db, since=started - 1)
    assert len(lines) == len(expected)
    for got, want in zip(lines, expected, strict=True):
        assert got == want.text(), f"line for {want.source.type} #{want.source.seq}"

    # A window that starts mid-call: c1's end still carries its wait and queue position,
    # which lie before the window, and ann's logoff the time since her earlier login.
    since = log.contact("c1", "contact.answered").ts + 0.5
    assert since < log.contact("c1", "contact.ended").ts
    windowed = await export(db, since=since)
    assert windowed == [x.text() for x in expected if x.source.ts >= since]
    assert windowed[0].split("|")[4] == "COMPLETECALLER"

    # --until is exclusive and cuts at the event's time
    until = log.contact("c3", "contact.queued").ts
    early = await export(db, since=started - 1, until=until)
    assert early == [x.text() for x in expected if x.source.ts < until]
    assert early[-1].split("|")[4] == "PAUSE"


# --- the command (once as a subprocess), on a story with known times --------------

T = 1_700_000_000.0  # 2023-11-14T22:13:20Z


async def seed_story(pool: asyncpg.Pool) -> None:
    """Dan logs in; k1 waits 4 s, talks 50 s and holds 10 s, the caller hangs up; k2 waits
    behind it and abandons after 30 s; Dan goes to lunch, then logs off."""

    def agent(ts: float, prev: str, status: str, prev_activity: str = "idle") -> EventRecord:
        return EventRecord(
            type="agent.state_changed",
            ts=ts,
            agent_id="dan",
            data={
                "status": status,
                "activity": "offline" if status == "offline" else "idle",
                "next_status": None,
                "prev_status": prev,
                "prev_activity": prev_activity,
            },
        )

    def contact(
        kind: str, ts: float, cid: str, agent: str | None = None, **data: Any
    ) -> EventRecord:
        return EventRecord(
            type=kind, ts=ts, contact_id=cid, agent_id=agent, queue_id="sales", data=data
        )

    story = [
        agent(T, "offline", "available", "offline"),
        contact("contact.arrived", T + 1, "k1", channel="voice", ani="+15550001"),
        contact(
            "contact.queued",
            T + 1,
            "k1",
            channel="voice",
            priority=0,
            enqueued_at=T + 1,
            step="default",
        ),
        contact("contact.arrived", T + 2, "k2", channel="voice", ani=None),
        contact(
            "contact.queued",
            T + 2,
            "k2",
            channel="voice",
            priority=0,
            enqueued_at=T + 2,
            step="default",
        ),
        contact(
            "contact.offered", T + 3, "k1", "dan", expires_at=T + 18, step="default", wait_s=2.0
        ),
        contact("contact.answered", T + 5, "k1", "dan", wait_s=4.0, in_queue=True),
        contact("contact.held", T + 10, "k1", "dan"),
        contact("contact.resumed", T + 20, "k1", "dan", hold_s=10.0),
        contact("contact.abandoned", T + 32, "k2", wait_s=30.0, in_queue=True),
        contact(
            "contact.ended", T + 65, "k1", "dan", talk_s=50.0, hold_s=10.0, ended_by="customer"
        ),
        contact(
            "wrapup.completed",
            T + 80,
            "k1",
            "dan",
            wrapup_s=15.0,
            disposition="sold",
            notes='He said "call me, later"\nthen hung up',
            timed_out=False,
        ),
        agent(T + 90, "available", "lunch"),
        agent(T + 100, "lunch", "offline"),
    ]
    async with EventLog(pool) as log:
        await log.append(story)


STORY_LINES = [
    "1700000000|NONE|NONE|dan|AGENTLOGIN|",
    "1700000001|k1|sales|NONE|ENTERQUEUE||+15550001",
    "1700000002|k2|sales|NONE|ENTERQUEUE||",
    "1700000005|k1|sales|dan|CONNECT|4||2",
    "1700000032|k2|sales|NONE|ABANDON|1|2|30",
    "1700000065|k1|sales|dan|COMPLETECALLER|4|60|1",
    "1700000090|NONE|NONE|dan|PAUSE|lunch",
    "1700000100|NONE|NONE|dan|AGENTLOGOFF||100",
]


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "contactcenter", "export", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def run_cli_in_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command through contactcenter.cli.main in this process: what a subprocess
    adds is its interpreter start-up and imports (most of a second or more per call), and
    the standard-output run below is a real subprocess. Standard output and error are
    captured as text, the exit code is main's return value or argparse's SystemExit."""
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = database_url
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["export", *args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if saved is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = saved
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


async def test_command_writes_the_queue_log_of_a_window(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await seed_story(db)
    target = tmp_path / "queue_log"
    done = await asyncio.to_thread(
        run_cli_in_process,
        database_url,
        "queue-log",
        "--since",
        "1700000000",
        "--output",
        str(target),
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "".join(f"{line}\n" for line in STORY_LINES)
    assert "wrote 8 lines" in done.stderr
    assert not [p for p in tmp_path.iterdir() if p.name != "queue_log"]  # no temp file left

    # ISO 8601 bounds, to standard output. The window starts while k1 is on the call and k2
    # waits: k1's end needs its wait and position and k2's abandon its original position,
    # all from before the window.
    done = await asyncio.to_thread(
        run_cli,
        database_url,
        "queue-log",
        "--since",
        "2023-11-14T22:13:50Z",
        "--until",
        "2023-11-14T23:14:55+01:00",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [STORY_LINES[i] for i in (4, 5, 6)]


async def test_command_rejects_bad_times_with_exit_code_2(database_url: str) -> None:
    bad = await asyncio.to_thread(
        run_cli_in_process, database_url, "queue-log", "--since", "yesterday"
    )
    assert bad.returncode == 2
    assert "--since" in bad.stderr and "'yesterday'" in bad.stderr
    assert "ISO 8601" in bad.stderr and "epoch seconds" in bad.stderr
    assert bad.stdout == ""
    backwards = await asyncio.to_thread(
        run_cli_in_process,
        database_url,
        "queue-log",
        "--since",
        "1700000100",
        "--until",
        "1700000000",
    )
    assert backwards.returncode == 2
    assert "--until" in backwards.stderr and "later than --since" in backwards.stderr


# --- the mapping's less common paths, on events written here -----------------------------


def test_fold_maps_overflow_direct_transfers_rescinds_and_reason_changes() -> None:
    seq = iter(range(1, 1000))

    def ev(
        kind: str,
        ts: float,
        cid: str | None = None,
        agent: str | None = None,
        queue: str | None = "billing",
        **data: Any,
    ) -> StoredEvent:
        return StoredEvent(
            seq=next(seq),
            type=kind,
            ts=T + ts,
            contact_id=cid,
            agent_id=agent,
            queue_id=queue if cid else None,
            data=data,
        )

    def state(
        ts: float,
        agent: str,
        prev: str,
        status: str,
        prev_activity: str = "idle",
        activity: str = "idle",
    ) -> StoredEvent:
        return ev(
            "agent.state_changed",
            ts,
            agent=agent,
            status=status,
            activity=activity,
            prev_status=prev,
            prev_activity=prev_activity,
            next_status=None,
        )

    events = [
        state(0, "eve", "offline", "lunch", "offline"),
        state(1, "eve", "lunch", "break"),
        state(2, "eve", "break", "available"),
        ev("contact.arrived", 3, "m1", ani="+15550009"),
        ev("contact.queued", 3, "m1", priority=0),
        ev("contact.offered", 4, "m1", "eve"),
        # eve logs out while it rings: the offer is withdrawn, which is a ring-no-answer
        ev("offer.rescinded", 4.25, "m1", "eve", reason="agent_logged_out"),
        state(4.25, "eve", "available", "offline", "offered", "offline"),
        # max wait overflows it into support: out of billing, into support
        ev("contact.flowed_out", 10, "m1", reason="overflow", target="support", wait_s=7.0),
        ev("contact.queued", 10, "m1", queue="support", priority=0),
        ev("contact.offered", 11, "m1", "fay", queue="support"),
        ev("contact.answered", 12, "m1", "fay", queue="support", wait_s=2.0),
        # fay hands it to gus, who does not take it: it waits in support again
        ev(
            "contact.transferred",
            20,
            "m1",
            "fay",
            queue="support",
            to_agent="gus",
            talk_s=8.0,
            hold_s=0.0,
        ),
        ev("contact.offered", 20, "m1", "gus", queue="support"),
        ev("offer.rejected", 21, "m1", "gus", queue="support"),
        ev("contact.queued", 21, "m1", queue="support", priority=0),
        ev("contact.offered", 22, "m1", "fay", queue="support"),
        ev("contact.answered", 24, "m1", "fay", queue="support", wait_s=3.0),
        ev(
            "contact.ended",
            30,
            "m1",
            "fay",
            queue="support",
            talk_s=6.0,
            hold_s=0.0,
            ended_by="agent",
        ),
        # an outbound call is not a queue call
        ev("contact.originated", 40, "o1", "fay", channel="voice"),
        ev("contact.ended", 50, "o1", "fay", talk_s=10.0, hold_s=0.0, ended_by="customer"),
    ]
    lines = [line.render() for line in queue_log_lines(events)]
    assert lines == [
        "1700000000|NONE|NONE|eve|AGENTLOGIN|",
        "1700000000|NONE|NONE|eve|PAUSE|lunch",
        "1700000001|NONE|NONE|eve|PAUSE|break",
        "1700000002|NONE|NONE|eve|UNPAUSE|break",
        "1700000003|m1|billing|NONE|ENTERQUEUE||+15550009",
        "1700000004|m1|billing|eve|RINGNOANSWER|250",
        "1700000004|NONE|NONE|eve|AGENTLOGOFF||4",
        "1700000010|m1|billing|NONE|EXITWITHTIMEOUT|1|1|7",
        "1700000010|m1|support|NONE|ENTERQUEUE||+15550009",
        "1700000012|m1|support|fay|CONNECT|2||1",
        "1700000020|m1|support|fay|BLINDTRANSFER|gus|agent|2|8|1",
        "1700000021|m1|support|NONE|ENTERQUEUE||+15550009",
        "1700000024|m1|support|fay|CONNECT|3||2",
        "1700000030|m1|support|fay|COMPLETEAGENT|3|6|1",
    ]
    # the window only filters: the same lines from t=20 on, with the context folded
    assert [line.render() for line in queue_log_lines(events, since=T + 20)] == lines[10:]


def test_agent_lines_follow_the_state_the_log_last_gave() -> None:
    """A state written after a restart says where the agent was; the fold goes by what the
    log said before, so nobody is logged in twice or unpaused from a pause never logged."""

    def state(seq: int, ts: float, prev: str, status: str, activity: str = "idle") -> StoredEvent:
        return StoredEvent(
            seq=seq,
            type="agent.state_changed",
            ts=T + ts,
            agent_id="hal",
            data={
                "status": status,
                "activity": activity,
                "next_status": None,
                "prev_status": prev,
                "prev_activity": "offline" if prev == "offline" else "idle",
            },
        )

    events = [
        state(1, 0, "offline", "available"),
        state(2, 60, "offline", "break"),  # restored: claims it came from offline
        state(3, 70, "available", "available"),  # claims no change, yet ends the break
        state(4, 100, "available", "offline", "offline"),
    ]
    assert [line.render() for line in queue_log_lines(events)] == [
        "1700000000|NONE|NONE|hal|AGENTLOGIN|",
        "1700000060|NONE|NONE|hal|PAUSE|break",
        "1700000070|NONE|NONE|hal|UNPAUSE|break",
        "1700000100|NONE|NONE|hal|AGENTLOGOFF||100",
    ]
