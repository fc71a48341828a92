"""Issue 13 §5: one agent sending ``hello last_seq=0`` in a loop stalled every other client
up to 3 s. Replay work is bounded per console and per second: past the budget a hello is
answered ``replay_throttled`` (with ``retry_after_s``) and nothing is resent."""

from __future__ import annotations

import asyncpg

from contactcenter import protocol as p
from contactcenter.clock import ManualScheduler
from contactcenter.hub import REPLAY_BUFFER
from contactcenter.settings import Settings
from tests.contactcenter.server_support import add_agent, console, running_app
from tests.security.support import services


async def test_a_hello_loop_is_bounded_and_others_are_answered(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    await add_agent(db, "bob", {"sales": 5})
    rate = cc_settings.replay_messages_per_s
    assert rate == 500 and REPLAY_BUFFER == 500
    scheduler = ManualScheduler()  # the budget refills on the fake clock only
    async with (
        running_app(cc_settings, db, scheduler=scheduler) as client,
        console(client, cc_settings, "alice") as alice,
        console(client, cc_settings, "bob") as bob,
    ):
        await alice.next("agent_state")
        consoles = services(client).consoles
        for _ in range(REPLAY_BUFFER):  # a full replay buffer
            consoles.deliver("alice", p.AGENT_STATE, {"filler": True})
        replies = [await alice.command("hello", last_seq=0) for _ in range(20)]
        ok = [r for r in replies if r["type"] == "reply"]
        refused = [r for r in replies if r["type"] == "error"]
        # a burst of twice the rate: two full replays, then refusals
        assert [r["data"]["replayed"] for r in ok] == [REPLAY_BUFFER, REPLAY_BUFFER]
        assert len(refused) == 18
        assert {r["data"]["code"] for r in refused} == {"replay_throttled"}
        assert all(0 < r["data"]["retry_after_s"] <= 1 for r in refused)
        # the other console is answered meanwhile
        assert (await bob.command("hello"))["type"] == "reply"
        # a second later the budget has refilled by the rate
        await scheduler.advance(1.0)
        again = await alice.command("hello", last_seq=0)
        assert again["type"] == "reply" and again["data"]["replayed"] == REPLAY_BUFFER


def test_the_budget_refills_at_the_rate() -> None:
    from contactcenter.hub import AgentChannel

    ch = AgentChannel("a")
    assert ch.take_replay_budget(1000, 500, now=0.0) is None
    wait = ch.take_replay_budget(500, 500, now=0.0)
    assert wait == 1.0
    assert ch.take_replay_budget(500, 500, now=1.0) is None
    # a replay larger than the burst costs the whole burst, never more
    assert ch.take_replay_budget(10_000, 500, now=3.0) is None
