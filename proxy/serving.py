"""Running the app: an ``AppRunner`` whose connection handler never echoes what it was sent,
the graceful stop (``serve_until_stopped``), and the event loop it runs on (``loop_factory``).

aiohttp answers a request it cannot parse (a bad header line, a control character in the
target, an over-long line) before any middleware runs, with a 400 whose body quotes the
offending line, and logs the parser's exception, line included. That line can be the
``Cookie`` header, so a participant cookie would reach the page and the log. Here every such
answer is a fixed, generic text (``GENERIC``) and the log line names only the status and the
exception's class.

Errors of our own handlers (500) keep their traceback in the log: it is how a bug is found,
and it carries the code path, not the request's headers. Their body is the generic text too.

Invariant: nothing the client sent is copied into a response body or a log line here.

Stopping (SIGTERM or SIGINT), in order: ``/readyz`` answers 503 "stopping" (``STOPPING``, so a
load balancer takes the node out), the listening socket is closed (no new connections), every
sync socket is sent a ``restarting`` message and closed with 1001 (the runtime shows "server
restarting" and reconnects, to another node or to this one once it is back: ``proxy.synchub``),
relayed target WebSockets are closed with 1001 (``proxy.open_sockets``), requests in flight get
``Config.shutdown_grace`` seconds to finish (then they are cancelled), and the app's cleanups
run, the audit trail's last (it drains its queue and syncs: nothing emitted before is lost). A
second signal while stopping is ignored; the grace bounds the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from proxy.config import Config
from proxy.keys import CONFIG, METRICS
from rewriter.space import parse_proxy_host

log = logging.getLogger("cobrowse.http")
STOPPING = web.AppKey("stopping", asyncio.Event)  # set once the server has begun to stop
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

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
            app = _app_of(request)
            session = _session_of(request, app)
            log.error("http.handler_error status=%d session=%s", status, session or "-", exc_info=exc)
            if app is not None:
                app[METRICS].errors.labels("handler_error").inc()
        if request.writer.output_size > 0:
            raise ConnectionError("response already started, cannot send the error answer")
        response = web.Response(status=status, text=_generic(status), content_type="text/plain",
                                headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
        response.force_close()
        return response


def _app_of(request: Any) -> web.Application | None:
    """The app a request reached (None: it never got to the router, e.g. it could not be parsed)."""
    try:
        app: web.Application = request.app
    except (AttributeError, AssertionError):
        return None
    return app if METRICS in app else None


def _session_of(request: Any, app: web.Application | None) -> str:
    """The session id in a proxy host (not a secret: the host names it), for the log line."""
    if app is None:
        return ""
    parsed = parse_proxy_host(request.headers.get("Host", ""), app[CONFIG].domain)
    return parsed.session_id if parsed is not None else ""


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


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop for ``Config.loop`` (None: asyncio's own). uvloop (libuv) runs aiohttp's
    per-request path with less overhead (bench/RESULTS.md, Issue 11); "uvloop" asked for and not
    installed is an error, "auto" falls back to asyncio's loop."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise SystemExit("cobrowse serve: --loop uvloop needs the uvloop package") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def serve_until_stopped(app: web.Application, config: Config, listening: Callable[[], None],
                              stop: asyncio.Event | None = None) -> None:
    """Serve ``app`` on ``config.host:config.port`` until a stop signal (or ``stop`` is set),
    then stop gracefully (see the module docstring). ``listening`` is called once the port listens."""
    stop = stop if stop is not None else asyncio.Event()
    if STOPPING not in app:  # an app not made by build_app (proxy.health.install_ops makes it)
        app[STOPPING] = asyncio.Event()
    runner = make_runner(app, access_log=None, shutdown_timeout=config.shutdown_grace, handle_signals=False)
    await runner.setup()
    loop = asyncio.get_running_loop()
    installed = []
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
                pass
        listening()
        await stop.wait()
        app[STOPPING].set()
        log.info("server.stopping grace=%s", config.shutdown_grace)
    finally:
        try:
            await runner.cleanup()
        finally:  # only now: a second signal during the drain must not kill the process
            for sig in installed:
                loop.remove_signal_handler(sig)
    log.info("server.stopped")
