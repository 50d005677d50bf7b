"""Ending a session: one function, whoever ends it (REST ``DELETE``, the leader's ``end``, its
lifetime running out, or nobody using it for its idle timeout).

After it, the session's hosts answer 410 (with ``Clear-Site-Data``, see ``proxy.visit.ended_page``),
its cookies and recorded responses are gone (waiting followers are woken), every sync socket has
been sent ``ended`` and closed, and the session names why it ended (``ended_reason``, one of
``sessions.lifecycle.END_REASONS``; the first reason given is kept).

``Expiries`` ends each session when its ``expires_at`` passes or when it has been idle (no
proxied request, no sync message: ``touch``) for its idle timeout, whichever server process
saw the activity and whichever is still alive. The shared state (``sessions.shared``) holds:
- ``expiries``: the index of watched sessions (id -> expires_at, idle timeout, watched since);
  a watch is announced on the channel ``expiries`` (``+id``; ``-id`` once ended), so every
  process arms a timer for every session, and each re-reads the index every ``RESYNC`` seconds
  (a message lost while its pub/sub connection was broken is made up for) and at start (a
  restarted process loses no timer);
- ``active:<id>``: the latest activity any process saw, written by the process that saw it at
  most every ``_step`` seconds (a quarter of the idle timeout, at most ``TOUCH_STEP``).

One timer per session per process, set for the earlier of the two deadlines; ``touch`` notes the
time, and a timer that fires looks at the shared activity time, and either sets itself for the
new deadline (busy sessions cost no timer churn) or claims the end: the claim takes the session
out of the index in one transaction, so exactly one process ends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from proxy import audit
from proxy.keys import RESPONSES, SERVICE, SHARED, STORE, SYNC
from proxy.presence import PRESENCE
from sessions.model import Session
from sessions.shared import Shared, SharedUnavailable, Subscription, Write

log = logging.getLogger("cobrowse.sessions")

INDEX: Final = "expiries"
CHANNEL: Final = "expiries"
ACTIVE: Final = "active:"
RESYNC: Final = 30.0  # seconds between re-readings of the index
TOUCH_STEP: Final = 1.0  # at most this many seconds between shared writes of a busy session's activity
RETRY: Final = 1.0  # seconds before a timer that could not reach the shared state looks again


async def end_session(app: web.Application, session_id: str, now: float, by: str) -> Session | None:
    """End the session for reason ``by`` (``sessions.lifecycle.END_REASONS``)."""
    ended = await app[SERVICE].end(session_id, now, by)
    await app[STORE].drop_jar(session_id)
    await app[RESPONSES].end(session_id)
    await app[SYNC].end(session_id)
    if EXPIRIES in app:
        await app[EXPIRIES].forget(session_id)
    if PRESENCE in app:
        app[PRESENCE].end(session_id)
    log.info("session.ended session=%s by=%s", session_id, by)
    audit.event(app, session_id, "", "ended", by=by)
    return ended


@dataclass(slots=True)
class _Watch:
    expires_at: float
    idle_timeout: float  # 0: never idles out
    last_active: float
    timer: asyncio.TimerHandle | None = None

    def deadline(self) -> tuple[float, str]:
        """When the session ends if nothing happens, and why."""
        if self.idle_timeout and self.last_active + self.idle_timeout < self.expires_at:
            return self.last_active + self.idle_timeout, "idle"
        return self.expires_at, "expired"

    def entry(self) -> list[float]:
        return [self.expires_at, self.idle_timeout, self.last_active]


def _index(held: str | None) -> dict[str, list[float]]:
    """The watched sessions as the index keeps them: id -> [expires_at, idle_timeout, since]."""
    try:
        found = json.loads(held) if held else {}
        return {str(sid): [float(x) for x in entry][:3] for sid, entry in found.items() if len(entry) >= 3}
    except (ValueError, TypeError, AttributeError):
        return {}


def _indexed(entries: dict[str, list[float]], *announce: str) -> Write:
    return Write(value=json.dumps(entries, separators=(",", ":")) if entries else None,
                 publish=tuple((CHANNEL, message) for message in announce))


def _later(held: str | None, at: float) -> tuple[Write | None, None]:
    """Keep the later of two activity times (two processes may write them out of order)."""
    try:
        if held is not None and float(held) >= at:
            return None, None
    except ValueError:
        pass
    return Write(value=repr(at)), None


def _active_at(held: str | None) -> float:
    try:
        return float(held) if held is not None else 0.0
    except ValueError:
        return 0.0


class Expiries:
    """The timers of every watched session, in every process: at ``expires_at``, or after
    ``idle_timeout`` seconds without a ``touch`` on any process, the session is ended like any
    other end, by the one process that claims it.

    Invariants: at most one timer per session id in a process; a session is ended by the
    process whose claim took it out of the index (never twice); a fired or forgotten watch is
    gone from ``_watches``; every task it starts is referenced until done; ``close`` cancels all.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._watches: dict[str, _Watch] = {}
        self._written: dict[str, float] = {}  # session id -> the activity time last written here
        self._writing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._heard: Subscription | None = None

    @property
    def _shared(self) -> Shared:
        return self._app[SHARED]

    async def start(self) -> None:
        """Hear of sessions watched elsewhere, and arm a timer for every one watched now."""
        self._heard = await self._shared.subscribe(CHANNEL, self._message)
        await self.resync()
        self._spawn(self._resync_forever())

    async def stop(self) -> None:
        self.close()
        if self._heard is not None:
            await self._heard.close()
            self._heard = None

    async def resync(self) -> None:
        """Arm a timer for each session of the index this process does not watch yet."""
        for session_id, (expires_at, idle_timeout, since) in _index(await self._shared.get(INDEX)).items():
            if session_id not in self._watches:
                self._keep(session_id, _Watch(expires_at, idle_timeout, since))

    async def watch(self, session_id: str, expires_at: float, idle_timeout: float = 0.0) -> None:
        """Watch a new session (every process hears of it)."""
        watch = _Watch(expires_at, idle_timeout, time.time())
        await self._shared.transact(INDEX, lambda held: (
            _indexed({**_index(held), session_id: watch.entry()}, "+" + session_id), None))
        self._keep(session_id, watch)

    def touch(self, session_id: str) -> None:
        """Something happened in the session (a proxied request, a sync message); other
        processes learn of it within ``_step`` seconds."""
        watch = self._watches.get(session_id)
        if watch is None:
            return
        watch.last_active = now = time.time()
        if (watch.idle_timeout and session_id not in self._writing
                and now - self._written.get(session_id, 0.0) >= _step(watch)):
            self._writing.add(session_id)
            self._spawn(self._write_active(session_id, watch))

    async def forget(self, session_id: str) -> None:
        """The session ended: no process watches it any more."""
        self._drop(session_id)

        def remove(held: str | None) -> tuple[Write | None, None]:
            entries = _index(held)
            return (_indexed(entries, "-" + session_id) if entries.pop(session_id, None) else None), None

        await self._shared.transact(INDEX, remove)
        await self._shared.delete(ACTIVE + session_id)

    def close(self) -> None:
        for watch in self._watches.values():
            if watch.timer is not None:
                watch.timer.cancel()
        self._watches.clear()
        for task in self._tasks:
            task.cancel()

    def _keep(self, session_id: str, watch: _Watch) -> None:
        self._drop(session_id)
        self._watches[session_id] = watch
        self._arm(session_id, watch)

    def _drop(self, session_id: str) -> None:
        watch = self._watches.pop(session_id, None)
        self._written.pop(session_id, None)
        if watch is not None and watch.timer is not None:
            watch.timer.cancel()

    def _arm(self, session_id: str, watch: _Watch, at: float | None = None) -> None:
        delay = max(0.0, (watch.deadline()[0] if at is None else at) - time.time())
        watch.timer = asyncio.get_running_loop().call_later(delay, self._fire, session_id, watch)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _message(self, message: str) -> None:
        sign, session_id = message[:1], message[1:]
        if sign == "-":
            self._drop(session_id)
        elif sign == "+" and session_id not in self._watches:
            self._spawn(self.resync())

    def _fire(self, session_id: str, watch: _Watch) -> None:
        if self._watches.get(session_id) is watch:
            self._spawn(self._check(session_id, watch))

    async def _check(self, session_id: str, watch: _Watch) -> None:
        """The timer fired: end the session if no process saw it active since, else look again
        at the new deadline."""
        try:
            active = _active_at(await self._shared.get(ACTIVE + session_id))
            if self._watches.get(session_id) is not watch:
                return
            watch.last_active = max(watch.last_active, active)
            at, reason = watch.deadline()
            if at > time.time():
                self._arm(session_id, watch)
                return

            def claim(held: str | None) -> tuple[Write | None, bool]:
                entries = _index(held)
                return (_indexed(entries, "-" + session_id), True) if entries.pop(session_id, None) else (None, False)

            claimed = await self._shared.transact(INDEX, claim)
        except SharedUnavailable as exc:
            log.warning("expiry.check_failed session=%s error=%s", session_id, exc)
            if self._watches.get(session_id) is watch:
                self._arm(session_id, watch, time.time() + RETRY)
            return
        self._drop(session_id)
        if claimed:
            await self._end(session_id, reason)

    async def _end(self, session_id: str, reason: str) -> None:
        session = await self._app[STORE].get(session_id)
        if session is None or session.ended_at is not None:
            return
        await end_session(self._app, session_id, time.time(), by=reason)

    async def _write_active(self, session_id: str, watch: _Watch) -> None:
        at = watch.last_active
        try:
            await self._shared.transact(ACTIVE + session_id, lambda held: _later(held, at))
            self._written[session_id] = at
        except SharedUnavailable as exc:
            log.warning("expiry.touch_not_shared session=%s error=%s", session_id, exc)
        finally:
            self._writing.discard(session_id)

    async def _resync_forever(self) -> None:
        while True:
            await asyncio.sleep(RESYNC)
            try:
                await self.resync()
            except SharedUnavailable as exc:
                log.warning("expiry.resync_failed error=%s", exc)


def _step(watch: _Watch) -> float:
    """How often a process shares a busy session's activity: often enough that another process
    never takes it for idle, at most once a second."""
    return min(TOUCH_STEP, watch.idle_timeout / 4)


async def expiries_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the app's timers (``EXPIRIES``) with the app, stop them with it."""
    await app[EXPIRIES].start()
    yield
    await app[EXPIRIES].stop()


EXPIRIES = web.AppKey("expiries", Expiries)
