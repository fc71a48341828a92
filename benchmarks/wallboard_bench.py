"""Wallboard benchmark: a supervisor page in headless Chromium while N agents take calls.

The server runs as a subprocess against PostgreSQL (a fresh database on ``DATABASE_URL``,
dropped after; else the embedded one), as in ``benchmarks/e2e_bench.py``, whose agent
consoles and simulated carrier this reuses: N agent websockets accept every offer, talk
``--talk`` s and wrap up while the carrier places Poisson calls at R calls/s to the sales
queue. The page (``--page supervisor``: tiles and the whole agents grid; or ``wallboard``:
the read-only screen with a wallboard token) is open in Debian's Chromium throughout.

Measured:

- update delay, event to rendered tile: every ``--marker-every`` s this process places a
  marker call into the billing queue (nobody is skilled for it, so only markers touch its
  counters) and notes the wall-clock time it sent the request; the page notes (a
  MutationObserver, then the next animation frame) when the billing tile first shows that
  many offered. Delay = rendered - sent; p50 / p95 / max. Same machine, same clock.
- websocket messages per supervisor per second, counted by the page, against the events
  the server committed per second in the same span (the coalescing ratio).
- long tasks on the page's main thread (PerformanceObserver): count and longest.

    .venv/bin/python benchmarks/wallboard_bench.py --agents 200 --rate 50 --duration 20 [--json]

Target: p95 update delay under 500 ms, at most 1/period messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench as e2e  # the sibling benchmark: clients, carrier, seeding

from contactcenter.carrier import CarrierConfig

CHROMIUM = os.environ.get("CC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]
MARKER_QUEUE = "billing"
# Both pages keep the count of feed messages they handled in a data attribute.
MESSAGES = (
    "() => Number((document.querySelector('#updated') || "
    "document.querySelector('#tiles')).dataset.messages || 0)"
)
TARGET_P95_MS = 500.0

# Runs in the page: note when the marker queue's "offered" figure changes on screen.
OBSERVER = """
(queue) => {
  window.__marks = [];
  window.__long = [];
  let last = null;
  const box = document.getElementById("tiles");
  const read = () => {
    const el = box.querySelector(`[data-queue="${queue}"] .offered .value`);
    const value = el ? Number(el.textContent) : null;
    if (value !== null && value !== last) {
      last = value;
      requestAnimationFrame(() => window.__marks.push([value, Date.now()]));
    }
  };
  new MutationObserver(read).observe(box, {childList: true, subtree: true, characterData: true});
  read();
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__long.push(e.duration);
    }).observe({type: "longtask", buffered: false});
  } catch (e) { /* no long task API */ }
}
"""


async def markers(
    url: str, token: str, every: float, stop: asyncio.Event, sent: dict[int, float]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        k = 0
        while not stop.is_set():
            k += 1
            sent[k] = time.time() * 1000.0
            async with http.post(
                f"{url}/gateway/calls",
                json={"call_id": f"mark-{k}", "ani": "+15550009999", "queue": MARKER_QUEUE},
            ) as r:
                if r.status != 201:
                    raise RuntimeError(f"marker call refused: {r.status} {await r.text()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    from contactcenter.auth import issue_token

    async with e2e.served(args.agents, work, "cc_wbench", 4) as srv:
        url = srv.url
        key = srv.secret.encode()
        tokens = [
            issue_token(key, user_id=f"agent{i:05d}", role="agent", ttl_s=3600)
            for i in range(args.agents)
        ]
        gateway = srv.gateway_key  # the marker calls come in as the gateway
        agents = e2e.Agents(url, tokens, args.talk)
        await agents.connect()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1366, "height": 768})
                if args.page == "wallboard":
                    board = issue_token(
                        key, user_id="wallboard:bench", role="wallboard", ttl_s=3600
                    )
                    await page.goto(f"{url}/ui/wallboard.html?period={args.period}#token={board}")
                else:
                    sup = issue_token(key, user_id=e2e.GATEWAY_USER, role="admin", ttl_s=3600)
                    saved = json.dumps(
                        {
                            "token": sup,
                            "user_id": e2e.GATEWAY_USER,
                            "role": "admin",
                            "display_name": "bench",
                            "expires_at": int(time.time()) + 3600,
                        }
                    )
                    await page.add_init_script(
                        f"sessionStorage.setItem('contactcenter.session.supervisor', "
                        f"{json.dumps(saved)})"
                    )
                    await page.goto(f"{url}/ui/supervisor.html?period={args.period}")
                await page.wait_for_selector(
                    f'#tiles [data-queue="{MARKER_QUEUE}"]', timeout=60_000
                )
                await page.evaluate(OBSERVER, MARKER_QUEUE)
                events_before = int(await srv.pool.fetchval("SELECT count(*) FROM events"))
                msgs_before = await page.evaluate(MESSAGES)
                t0 = time.monotonic()
                carrier = e2e.TimedCarrier(
                    CarrierConfig(
                        url=url,
                        gateway_key=srv.gateway_key,
                        rate=args.rate,
                        duration=args.duration,
                        max_calls=int(args.rate * args.duration * 2) + 100,
                        patience_mean=600.0,
                        talk_mean=3600.0,
                        queue=e2e.QUEUE,
                        drain=5.0,
                        seed=args.seed,
                        request_timeout=30.0,
                    )
                )
                stop = asyncio.Event()
                sent: dict[int, float] = {}
                marking = asyncio.create_task(markers(url, gateway, args.marker_every, stop, sent))
                result = await carrier.run()
                stop.set()
                await marking
                await asyncio.sleep(max(2.0, 2 * args.period))  # the last markers render
                span = time.monotonic() - t0
                msgs = await page.evaluate(MESSAGES) - msgs_before
                events = int(await srv.pool.fetchval("SELECT count(*) FROM events")) - events_before
                marks = await page.evaluate("() => window.__marks")
                long_tasks = await page.evaluate("() => window.__long")
            finally:
                await browser.close()
        await agents.close()
        rendered: dict[int, float] = {}
        for value, at in marks:
            for k in range(1, int(value) + 1):
                rendered.setdefault(k, float(at))
        delays = [rendered[k] - sent[k] for k in sent if k in rendered]
        return {
            "agents": args.agents,
            "rate": args.rate,
            "duration_s": args.duration,
            "page": args.page,
            "period_s": args.period,
            "calls_placed": len(result.calls),
            "answered": sum(1 for c in result.calls if c.time_to_bridge is not None),
            "markers": len(sent),
            "markers_rendered": len(delays),
            "delay_p50_ms": _round(e2e.percentile(delays, 50)),
            "delay_p95_ms": _round(e2e.percentile(delays, 95)),
            "delay_max_ms": _round(max(delays) if delays else None),
            "messages_per_s": round(msgs / span, 2),
            "events_per_s": round(events / span, 1),
            "long_tasks": len(long_tasks),
            "longest_task_ms": _round(max(long_tasks) if long_tasks else 0.0),
            "target_p95_ms": TARGET_P95_MS,
            "p95_ok": bool(delays) and (e2e.percentile(delays, 95) or 1e9) < TARGET_P95_MS,
            "coalesced": msgs / span <= 1.0 / args.period + 0.5,
            "database": srv.database,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="calls per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of arrivals")
    parser.add_argument("--talk", type=float, default=2.0, help="agent talk time, seconds")
    parser.add_argument(
        "--period",
        type=float,
        default=0.25,
        help="seconds between wallboard updates the page asks for",
    )
    parser.add_argument("--page", choices=("supervisor", "wallboard"), default="supervisor")
    parser.add_argument("--marker-every", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    e2e.raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="cc-wbench-") as tmp:
        report = asyncio.run(run(args, Path(tmp)))
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"wallboard benchmark: {report['agents']} agents, {report['rate']} calls/s for "
            f"{report['duration_s']} s, {report['page']} page, period {report['period_s']} s "
            f"({report['database']})"
        )
        print(f"  calls placed {report['calls_placed']}, answered {report['answered']}")
        print(
            f"  update delay event->rendered tile: p50 {report['delay_p50_ms']} ms, "
            f"p95 {report['delay_p95_ms']} ms, max {report['delay_max_ms']} ms "
            f"({report['markers_rendered']}/{report['markers']} markers); target p95 < "
            f"{TARGET_P95_MS:.0f} ms: {'ok' if report['p95_ok'] else 'MISSED'}"
        )
        print(
            f"  websocket messages per supervisor: {report['messages_per_s']}/s for "
            f"{report['events_per_s']} events/s committed "
            f"({'coalesced' if report['coalesced'] else 'NOT coalesced'})"
        )
        print(f"  page long tasks: {report['long_tasks']}, longest {report['longest_task_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
