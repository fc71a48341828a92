"""The supervisor wallboard's push feed: ``/ws/supervisor?token=...[&period=s]``.

Roles: supervisor, admin, and the read-only ``wallboard`` token kind (auth.py). The
connection gets one ``wallboard_snapshot`` (every queue tile and agent row), then
``wallboard_update`` messages carrying only the tiles and rows that changed. Updates are
coalesced per connection: at most one per period (config/ui.yaml ``wallboard.period_s``,
or the client's ``period`` within ``min_period_s``..60 s), however many events happened,
and none when nothing changed. A commit of the event log marks the board dirty; a one
second ticker also does, because thresholds on the longest wait and occupancy move with
time alone.

The figures are the statistics fold's (``routing.stats.StatsFold``, one definition for the
whole server) and the live engine's agents; nothing here counts on its own except when a
contact was first seen connected (a row's current-contact duration). Message shapes are
in protocol.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Literal

import asyncpg
from aiohttp import WSMsgType, web

from contactcenter import protocol as p
from contactcenter.acd import Acd
from contactcenter.auth import WALLBOARD
from contactcenter.clock import Scheduler, Timer
from contactcenter.sessions import EndedSessions
from contactcenter.store import StoredEvent
from contactcenter.store.users import list_agents
from contactcenter.ui_settings import QueueThresholds, Threshold, UiSettings
from contactcenter.webcommon import (
    Authenticator,
    authenticate_socket,
    close_session_ended,
    fail,
    refuse_token_in_url,
)
from routing.stats import agent_state, board_counts

log = logging.getLogger(__name__)

Level = Literal["amber", "red"]

FEED_ROLES = frozenset({"supervisor", "admin", WALLBOARD})
DEBOUNCE_S = 0.02
"""After a quiet spell the first change goes out this soon (a burst of one input's events
lands in one message) rather than waiting a whole period."""
TICK_S = 1.0


def _round(value: float | None, digits: int = 4) -> float | None:
    # Occupancy and rates move in tiny steps; rounding keeps unchanged tiles unchanged.
    return None if value is None else round(value, digits)


def _level(value: float | None, t: Threshold, lower_is_worse: bool = False) -> Level | None:
    if value is None:
        return None
    if lower_is_worse:
        if t.red is not None and value < t.red:
            return "red"
        if t.amber is not None and value < t.amber:
            return "amber"
        return None
    if t.red is not None and value >= t.red:
        return "red"
    if t.amber is not None and value >= t.amber:
        return "amber"
    return None


def alerts_for(tile: p.WallboardTile, t: QueueThresholds) -> dict[str, Level]:
    found = {
        "waiting": _level(tile.waiting, t.waiting),
        "longest_wait_s": _level(tile.longest_wait_s, t.longest_wait_s),
        "service_level": _level(tile.service_level, t.service_level, lower_is_worse=True),
        "abandon_rate": _level(tile.abandon_rate, t.abandon_rate),
    }
    return {k: v for k, v in found.items() if v is not None}


def skilled_for(skills: dict[str, int], required: dict[str, int]) -> bool:
    """Whether an agent with ``skills`` meets a queue's ``required`` levels."""
    return all(skills.get(name, 0) >= level for name, level in required.items())


class Subscriber:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        period_s: float,
        user_id: str = "",
        session_id: str | None = None,
    ) -> None:
        self.ws = ws
        self.period_s = period_s
        self.user_id = user_id
        self.session_id = session_id
        """The session the screen authenticated with: when it ends, the socket closes."""
        self.seq = 0
        self.queues: dict[str, p.WallboardTile] = {}
        self.agents: dict[str, p.WallboardAgent] = {}
        self.last_sent = 0.0
        self.timer: Timer | None = None
        self.sending: asyncio.Task[None] | None = None
        self.messages = 0


class Wallboard:
    def __init__(
        self,
        acd: Acd,
        pool: asyncpg.Pool,
        settings: UiSettings,
        scheduler: Scheduler,
        auth: Authenticator,
        *,
        auth_timeout_s: float = p.AUTH_TIMEOUT_S,
    ) -> None:
        self.acd = acd
        self.auth = auth
        self.auth_timeout_s = auth_timeout_s
        self._closing: set[asyncio.Task[None]] = set()
        self.pool = pool
        self.settings = settings
        self.scheduler = scheduler
        """The coalescing timers and the periodic refresh (time in state) run on it."""
        self.subscribers: set[Subscriber] = set()
        self.profiles: dict[str, tuple[str, str]] = {}
        self._contact_since: dict[tuple[str, str], float] = {}
        self._built: tuple[int, dict[str, p.WallboardTile], dict[str, p.WallboardAgent]] | None
        self._built = None
        self._generation = 0
        self._refreshing = False
        self._ticker: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._load_profiles()
        self._ticker = self._loop.create_task(self._tick())

    async def close(self, why: p.Closing = p.SHUTTING_DOWN) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for sub in list(self.subscribers):
            if sub.timer is not None:
                sub.timer.cancel()
            await sub.ws.close(code=why.code, message=why.reason.encode())
        self.subscribers.clear()

    async def _load_profiles(self) -> None:
        self.profiles = {
            a.agent_id: (a.display_name, a.team or "") for a in await list_agents(self.pool)
        }

    async def _refresh_profiles(self) -> None:
        try:
            await self._load_profiles()
            self.poke()
        except Exception:
            log.exception("could not reload agent names for the wallboard")
        finally:
            self._refreshing = False

    async def _tick(self) -> None:
        while True:
            await self.scheduler.sleep(TICK_S)
            self.poke()

    # --- building the board ----------------------------------------------------------------

    def on_commit(self, events: Sequence[StoredEvent]) -> None:
        self.poke()

    def poke(self) -> None:
        """Something may have changed: each subscriber gets a message when its period
        allows (at most one per period, coalescing everything in between)."""
        self._generation += 1
        if not self.subscribers or self._loop is None:
            return
        now = self.scheduler.now()
        for sub in self.subscribers:
            if sub.timer is None:
                at = max(now + DEBOUNCE_S, sub.last_sent + sub.period_s)
                sub.timer = self._flush_later(sub, at - now)

    def build(self) -> tuple[dict[str, p.WallboardTile], dict[str, p.WallboardAgent]]:
        """Every tile and agent row, as of now (shared by the subscribers of one moment)."""
        if self._built is not None and self._built[0] == self._generation:
            return self._built[1], self._built[2]
        acd = self.acd
        engine = acd.engine
        stats = acd.stats
        now = acd.clock()
        stats.flush_agents(now)
        required = {q.id: dict(q.skills) for q in engine.config.queues}
        agents: dict[str, p.WallboardAgent] = {}
        # per queue: the logged-in agents skilled for it, and their states
        members: dict[str, list[str]] = {q: [] for q in required}
        member_states: dict[str, list[str]] = {q: [] for q in required}
        live: set[tuple[str, str]] = set()
        unknown = False
        for snap in engine.agents():
            label = agent_state(snap.status, snap.activity)
            queues = [q for q, skills in required.items() if skilled_for(snap.skills, skills)]
            if snap.activity != "offline":
                for q in queues:
                    members[q].append(snap.id)
                    member_states[q].append(label)
            started: float | None = None
            for cid, state in snap.contacts.items():
                if state in ("connected", "held"):
                    key = (snap.id, cid)
                    live.add(key)
                    since = self._contact_since.setdefault(key, now)
                    started = since if started is None else min(started, since)
            profile = self.profiles.get(snap.id)
            if profile is None:
                unknown = True
            name, team = profile or (snap.id, snap.team or "")
            agents[snap.id] = p.WallboardAgent(
                agent_id=snap.id,
                display_name=name,
                team=snap.team or team,
                status=snap.status,
                activity=snap.activity,
                state=label,
                next_status=snap.next_status,
                since=max(snap.status_since, snap.activity_since),
                contacts=dict(snap.contacts),
                contact_since=started,
                queues=queues,
                skills=dict(snap.skills),
            )
        for key in [k for k in self._contact_since if k not in live]:
            del self._contact_since[key]
        if unknown and not self._refreshing and self._loop is not None:
            # A profile added while running: names come from the store, off this call.
            self._refreshing = True
            self._refresh = self._loop.create_task(self._refresh_profiles())
        tiles: dict[str, p.WallboardTile] = {}
        for queue in engine.config.queues:
            snap_q = stats.queue_snapshot(queue.id, now)
            tile = p.WallboardTile(
                queue_id=queue.id,
                name=queue.name or queue.id,
                waiting=snap_q["waiting"],
                oldest_at=stats.oldest_waiting(queue.id),
                # whole seconds: the page ticks it between messages from oldest_at
                longest_wait_s=float(int(snap_q["longest_wait_s"])),
                offered=snap_q["offered"],
                answered=snap_q["answered"],
                abandoned=snap_q["abandoned"],
                short_abandoned=snap_q["short_abandoned"],
                service_level=_round(snap_q["service_level"]),
                service_level_formula=snap_q["service_level_formula"],
                service_level_target=queue.service_level.target,
                asa_s=_round(snap_q["asa_s"], 1),
                abandon_rate=_round(snap_q["abandon_rate"]),
                aht_s=_round(snap_q["aht_s"], 1),
                occupancy=_round(stats.occupancy(members[queue.id]), 3),
                agents=p.WallboardAgents(**board_counts(member_states[queue.id])),
            )
            alerts = alerts_for(tile, self.settings.thresholds_for(queue.id))
            tile.alerts = alerts
            tile.level = "red" if "red" in alerts.values() else "amber" if alerts else "ok"
            tiles[queue.id] = tile
        self._built = (self._generation, tiles, agents)
        return tiles, agents

    # --- sending ---------------------------------------------------------------------------

    def _send(
        self, sub: Subscriber, kind: str, data: p.WallboardSnapshotData | p.WallboardUpdateData
    ) -> None:
        sub.seq += 1
        sub.messages += 1
        text = p.envelope(kind, sub.seq, data.model_dump(mode="json"))
        sub.sending = asyncio.get_running_loop().create_task(self._write(sub, text))

    async def _refuse(self, sub: Subscriber, raw: str | bytes) -> None:
        """A client frame answered with an unnumbered ``error``: the decoder's code when
        it is not even good JSON, ``read_only`` otherwise."""
        try:
            p.decode_frame(raw, p.WALLBOARD_SOCKET_MAX_BYTES)
        except p.ProtocolError as exc:
            error = p.WallboardErrorData(code=exc.code, message=exc.message)
        else:
            error = p.WallboardErrorData(
                code="read_only", message="this socket takes no frames; actions are REST calls"
            )
        text = p.envelope(p.WALLBOARD_ERROR, 0, error.model_dump(mode="json"))
        await self._write(sub, text)  # read by read: a client cannot pile them up

    async def _write(self, sub: Subscriber, text: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await sub.ws.send_str(text)

    def _flush_later(self, sub: Subscriber, delay: float) -> Timer:
        return self.scheduler.call_later(delay, lambda: self._flush(sub))

    def _flush(self, sub: Subscriber) -> None:
        sub.timer = None
        if sub not in self.subscribers or self._loop is None:
            return
        if sub.sending is not None and not sub.sending.done():
            # A screen that does not keep up gets the changes later, together.
            sub.timer = self._flush_later(sub, sub.period_s)
            return
        tiles, agents = self.build()
        changed_q = [t for qid, t in tiles.items() if sub.queues.get(qid) != t]
        changed_a = [a for aid, a in agents.items() if sub.agents.get(aid) != a]
        removed = [aid for aid in sub.agents if aid not in agents]
        if not (changed_q or changed_a or removed):
            return
        sub.queues, sub.agents = tiles, agents
        sub.last_sent = self.scheduler.now()
        self._send(
            sub,
            p.WALLBOARD_UPDATE,
            p.WallboardUpdateData(
                now=self.acd.clock(), queues=changed_q, agents=changed_a, removed_agents=removed
            ),
        )

    def end_sessions(self, ended: EndedSessions) -> None:
        """Close at once the screens of these sessions (or users): an error frame naming
        ``ended.code``, then ``CLOSE_SESSION_ENDED``."""
        for sub in list(self.subscribers):
            if sub.session_id not in ended.session_ids and sub.user_id not in ended.user_ids:
                continue
            self.subscribers.discard(sub)
            if sub.timer is not None:
                sub.timer.cancel()
                sub.timer = None
            task = asyncio.get_running_loop().create_task(
                close_session_ended(sub.ws, ended.code, ended.message)
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refuse_token_in_url(request)
        wanted = request.query.get("period")
        period = self.settings.wallboard.period_s
        if wanted is not None:
            try:
                period = float(wanted)
            except ValueError:
                fail(400, "bad_period", "period must be a number of seconds")
            low = self.settings.wallboard.min_period_s
            if not low <= period <= 60:
                fail(400, "bad_period", f"period must be between {low:g} and 60 seconds")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=p.WALLBOARD_SOCKET_MAX_BYTES)
        await ws.prepare(request)
        claims = await authenticate_socket(
            self.auth, request, ws, FEED_ROLES, self.scheduler, self.auth_timeout_s
        )
        if claims is None:
            return ws
        sub = Subscriber(ws, period, claims.user_id, claims.session_id)
        tiles, agents = self.build()
        sub.queues, sub.agents = tiles, agents
        assert self._loop is not None
        sub.last_sent = self.scheduler.now()
        self.subscribers.add(sub)
        self._send(
            sub,
            p.WALLBOARD_SNAPSHOT,
            p.WallboardSnapshotData(
                now=self.acd.clock(),
                period_s=period,
                read_only=claims.role == WALLBOARD,
                long_contact_s=self.settings.wallboard.long_contact_s,
                queues=list(tiles.values()),
                agents=list(agents.values()),
            ),
        )
        try:
            async for msg in ws:
                # Nothing to say to the server over this socket (actions are REST);
                # reading keeps the heartbeat and the close handshake going, and a client
                # that sends something hears that it was not taken.
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._refuse(sub, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.subscribers.discard(sub)
            if sub.timer is not None:
                sub.timer.cancel()
        return ws


__all__ = ["FEED_ROLES", "Wallboard", "alerts_for"]
