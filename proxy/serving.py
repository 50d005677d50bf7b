"""Running the app: an ``AppRunner`` whose connection handler never echoes what it was sent.

aiohttp answers a request it cannot parse (a bad header line, a control character in the
target, an over-long line) before any middleware runs, with a 400 whose body quotes the
offending line, and logs the parser's exception, line included. That line can be the
``Cookie`` header, so a participant cookie would reach the page and the log. Here every such
answer is a fixed, generic text (``GENERIC``) and the log line names only the status and the
exception's class.

Errors of our own handlers (500) keep their traceback in the log: it is how a bug is found,
and it carries the code path, not the request's headers. Their body is the generic text too.

Invariant: nothing the client sent is copied into a response body or a log line here.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("cobrowse.http")

GENERIC: dict[int, str] = {
    400: "400 Bad Request\n\nThe request could not be read as HTTP. Nothing of it is repeated here.\n",
    500: "500 Internal Server Error\n\nSomething went wrong in cobrowse. The server log has the details.\n",
    504: "504 Gateway Timeout\n\nThe request took too long.\n",
}


def _generic(status: int) -> str:
    return GENERIC.get(status, f"{status}\n\nThe request could not be answered.\n")


class QuietRequestHandler(web.RequestHandler):
    """aiohttp's per-connection handler, with error answers and logs that echo nothing."""

    __slots__ = ()

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if exc is None or isinstance(exc, HttpProcessingError):
            # The parser's message quotes the raw request: log its class only.
            log.info("http.bad_request status=%d error=%s", status, type(exc).__name__ if exc else "-")
        else:
            log.error("http.handler_error status=%d", status, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started, cannot send the error answer")
        response = web.Response(status=status, text=_generic(status), content_type="text/plain",
                                headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
        response.force_close()
        return response


class QuietServer(web.Server):
    """``web.Server`` whose connections are handled by ``QuietRequestHandler``."""

    def __call__(self) -> web.RequestHandler:
        return QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class QuietAppRunner(web.AppRunner):
    """``web.AppRunner`` serving through ``QuietServer`` (the app's lifecycle is unchanged)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The same server object, only its connection factory differs (QuietServer adds no state).
        server.__class__ = QuietServer
        return server


def make_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """The runner every entry point (CLI, tests) uses: ``web.AppRunner`` keyword arguments."""
    return QuietAppRunner(app, **kwargs)
