"""Server-to-client websocket text frames, written in batches straight to the transport.

Why not ``WebSocketResponse.send_str`` per message: one engine step tells an agent
several things at once (a contact state, the agent state, the reply to its command),
and on loopback or a LAN each socket write costs more than building the frames. A
``FrameBatcher`` collects the messages queued during one turn of the event loop and
writes them as consecutive frames with a single ``transport.write``; no task, queue or
await per message. Frames are plain RFC 6455 text frames (FIN, opcode 1, unmasked as a
server must, uncompressed: legal whether or not permessage-deflate was negotiated).
aiohttp's own frames (ping, pong, close) are each written whole by one synchronous call,
so they never interleave with ours.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying ``payload`` (UTF-8)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", _FIN_TEXT, n)
    elif n < 65536:
        header = struct.pack("!BBH", _FIN_TEXT, 126, n)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, n)
    return header + payload


class FrameBatcher:
    """Queue text messages for one connection; they go out together at the next loop turn.

    ``on_overflow`` is called (and nothing more is written) when the peer does not read:
    the transport's unsent bytes exceed ``limit``.
    """

    def __init__(
        self, transport: asyncio.Transport, *, limit: int, on_overflow: Callable[[], None]
    ) -> None:
        self.transport = transport
        self.limit = limit
        self.on_overflow = on_overflow
        self.closed = False
        self._pending: list[bytes] = []

    def send(self, text: str) -> None:
        if self.closed:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(text_frame(text.encode()))

    def flush(self) -> None:
        frames, self._pending = self._pending, []
        if self.closed or not frames or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() > self.limit:
            self.closed = True
            self.on_overflow()
            return
        self.transport.write(b"".join(frames))

    def close(self) -> None:
        """Write what is queued, then nothing more (the socket is being closed)."""
        self.flush()
        self.closed = True
