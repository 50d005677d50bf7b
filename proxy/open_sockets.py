"""Relayed WebSockets a stopping server closes itself: the browser's side of every target
WebSocket (``proxy.wsproxy``, the driver's and each follower's copy).

Such a handler waits on its peers, not on a request it could finish: left alone it would hold a
graceful stop (``proxy.serving``) for the whole grace and then be cancelled. At shutdown each is
closed with 1001 (going away), which ends its relay the normal way (its audit event included);
the page's own code then reconnects as it would after any server restart. Sync sockets are not
here: ``proxy.synchub`` tells and closes those.

Held weakly: a socket whose handler has returned is gone from the set without a word.
"""

from __future__ import annotations

import weakref

from aiohttp import web

CLOSE_GOING_AWAY = 1001


class OpenSockets:
    def __init__(self) -> None:
        self._open: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def add(self, ws: web.WebSocketResponse) -> None:
        self._open.add(ws)

    def __len__(self) -> int:
        return len(self._open)

    async def close_all(self) -> None:
        for ws in list(self._open):
            await ws.close(code=CLOSE_GOING_AWAY, message=b"server shutting down")
