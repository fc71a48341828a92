"""The batched websocket frame writer against real sockets: an aiohttp client reads every
message intact and in order (all three length encodings, mixed with aiohttp's own
sends), and a peer that does not read is cut off once the limit is passed."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.wsframes import FrameBatcher, text_frame

SIZES = [0, 1, 125, 126, 65535, 65536, 200_000]


def test_text_frame_headers() -> None:
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert text_frame(b"x" * 65536)[:10] == b"\x81\x7f" + (65536).to_bytes(8, "big")


async def test_batched_frames_arrive_whole_and_in_order() -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert request.transport is not None
        out = FrameBatcher(request.transport, limit=1 << 24, on_overflow=lambda: None)
        for i, size in enumerate(SIZES):
            out.send(f"{i}:" + "é" * size)
            if i == 2:
                await ws.send_str("aiohttp's own")  # goes out before the batch
        # one loop turn, no timer: the batcher writes its batch at the next turn
        await asyncio.sleep(0)
        out.send("é" * 10)  # non-ASCII: the length is in bytes
        out.close()
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    async with TestServer(app) as server, TestClient(server) as client:
        ws = await client.ws_connect("/ws", max_msg_size=0)
        got = []
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            got.append(msg.data)
    assert got[0] == "aiohttp's own"
    assert got[1:-1] == [f"{i}:" + "é" * size for i, size in enumerate(SIZES)]
    assert got[-1] == "é" * 10


async def test_a_peer_that_does_not_read_is_cut_off() -> None:
    stalled = asyncio.Event()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stalled.wait()  # never reads
        writer.close()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    overflowed = asyncio.Event()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    out = FrameBatcher(transport, limit=256 * 1024, on_overflow=overflowed.set)
    try:
        chunk = "x" * 60_000
        for _ in range(2000):
            out.send(chunk)
            await asyncio.sleep(0)  # one loop turn: the OS socket buffer fills (no timer)
            if overflowed.is_set():
                break
        assert overflowed.is_set()
        assert out.closed
        out.send("more")  # ignored once closed
    finally:
        stalled.set()
        transport.close()
        server.close()
        await server.wait_closed()
