"""A target WebSocket's audit records: a ``websocket`` event when it opens and one when it closes,
with message counts and bytes each way.

``path`` is ``upstream`` for the driver's socket (relayed to the target) and ``store`` for a
follower's copy (fed from the driver's fan-out channel; what it sends never goes upstream). ``up``
counts what the participant's browser sent, ``down`` what it was sent. Counting is two integer
additions a message; the events are emitted through the non-blocking audit sink. Message contents
are never recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from proxy import audit
from proxy.visit import Visit

Tap = Callable[[bool, str | bytes], None]


@dataclass(slots=True)
class SocketTrace:
    app: web.Application
    session_id: str
    participant: str
    url: str
    path: str
    up_messages: int = 0
    up_bytes: int = 0
    down_messages: int = 0
    down_bytes: int = 0

    @classmethod
    def opened(cls, request: web.Request, visit: Visit, path: str) -> SocketTrace:
        trace = cls(request.app, visit.session.id, visit.participant.id, visit.real_url, path)
        audit.event(trace.app, trace.session_id, trace.participant, "websocket", phase="open", url=trace.url,
                    path=path)
        return trace

    def up(self, is_text: bool, data: str | bytes) -> None:
        self.up_messages += 1
        self.up_bytes += _size(data)

    def down(self, is_text: bool, data: str | bytes) -> None:
        self.down_messages += 1
        self.down_bytes += _size(data)

    def counting(self, tap: Tap, count: Tap) -> Tap:
        """``tap`` that also counts each message with ``count`` (``self.up`` or ``self.down``)."""

        def both(is_text: bool, data: str | bytes) -> None:
            count(is_text, data)
            tap(is_text, data)

        return both

    def closed(self, code: int | None) -> None:
        audit.event(self.app, self.session_id, self.participant, "websocket", phase="close", url=self.url,
                    path=self.path, code=str(code or 0), up_messages=str(self.up_messages),
                    up_bytes=str(self.up_bytes), down_messages=str(self.down_messages),
                    down_bytes=str(self.down_bytes))


def _size(data: str | bytes) -> int:
    return len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
