"""The HTTP access log, with credentials taken out.

No bearer token may reach a log line: browsers no longer put tokens in URLs (sockets
authenticate with their first frame), but a URL is the client's choice, so the access log
redacts the values of token-like query parameters (``token``, ``access_token``,
``refresh_token``, ``password``, ...) whatever the route, and never logs request headers
(``Authorization``, cookies). ``redact`` is also a logging filter on every handler
(logs.configure), for any other line that quotes a URL or an Authorization header.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

SENSITIVE_PARAMS: Final = (
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "password",
    "secret",
    "key",
    "api_key",
    "apikey",
    "session",
    "sid",
)
REDACTED: Final = "[redacted]"
_PARAM = re.compile(
    r"(?i)([?&;](?:" + "|".join(re.escape(n) for n in SENSITIVE_PARAMS) + r")=)[^&;#\s\"']*"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_FRAGMENT_TOKEN = re.compile(r"(?i)(#(?:[^\s\"']*&)?token=)[^&\s\"']*")


def redact(text: str) -> str:
    """``text`` with token-like query values and bearer credentials replaced."""
    text = _PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _FRAGMENT_TOKEN.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + " " + REDACTED, text)


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request: address, method, the path with its query redacted, status,
    size, time, user agent; the ``aiohttp.access`` logger, as aiohttp's own."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        agent = request.headers.get("User-Agent", "-")
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %s %.3fs "%s"',
            request.remote or "-",
            request.method,
            redact(request.raw_path),
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            time,
            redact(agent)[:200],
            extra={
                "remote": request.remote,
                "method": request.method,
                "path": request.path,
                "status": response.status,
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class RedactFilter(logging.Filter):
    """Rewrites every record's message through ``redact`` (a defence in depth: a library
    or a careless line that logs a URL or a header)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


__all__ = ["REDACTED", "RedactFilter", "RedactingAccessLogger", "redact"]
