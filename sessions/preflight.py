"""CORS preflight answers shared by a session's participants.

Browsers send CORS preflights (``OPTIONS`` with ``Access-Control-Request-Method``) without
cookies, so a preflight cannot prove which participant sent it. The proxy therefore forwards a
preflight once (with no credentials, as the browser would) and answers the same preflight
from here for as long as the target said it may be cached (``Access-Control-Max-Age``;
Chromium's default of 5 s when absent, capped at Chromium's 2 hours). Every participant's
browser would have cached the answer for that long too, so the target sees as many preflights
as it would from the leader alone.

Bounded: at most ``max_entries`` answers per session, the oldest dropped first. The answers are
shared by every server process (``PreflightCache`` keeps them in ``sessions.shared``); their
expiry is wall-clock time (``time.time()``), the one clock processes share.
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass

from sessions.shared import Shared, Write

DEFAULT_MAX_AGE = 5.0
LONGEST_MAX_AGE = 7200.0

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PreflightKey:
    url: str  # real URL
    origin: str  # real origin of the page asking
    method: str  # Access-Control-Request-Method
    headers: str  # Access-Control-Request-Headers, lower-cased, sorted


@dataclass(frozen=True, slots=True)
class PreflightAnswer:
    status: int
    reason: str
    headers: Headers  # already rewritten for the browser
    expires_at: float


def preflight_key(url: str, origin: str, method: str, request_headers: str) -> PreflightKey:
    names = sorted({h.strip().lower() for h in request_headers.split(",") if h.strip()})
    return PreflightKey(url, origin, method.strip().upper(), ",".join(names))


def max_age(headers: Headers) -> float:
    for name, value in headers:
        if name.lower() == "access-control-max-age":
            try:
                return max(0.0, min(float(value.strip()), LONGEST_MAX_AGE))
            except ValueError:
                return DEFAULT_MAX_AGE
    return DEFAULT_MAX_AGE


class PreflightCache:
    """One session's answers, as one value in the state every process shares
    (``sessions.shared``): a JSON list, oldest first, kept as long as its latest answer lasts."""

    def __init__(self, shared: Shared, key: str, max_entries: int = 1000) -> None:
        self._shared = shared
        self.key = key
        self._max_entries = max_entries

    async def get(self, key: PreflightKey, now: float) -> PreflightAnswer | None:
        return next((a for k, a in _answers(await self._shared.get(self.key), now) if k == key), None)

    async def put(self, key: PreflightKey, status: int, reason: str, headers: Headers,
                  now: float) -> PreflightAnswer:
        answer = PreflightAnswer(status, reason, headers, now + max_age(headers))

        def change(old: str | None) -> tuple[Write, None]:
            kept = [(k, a) for k, a in _answers(old, now) if k != key]
            kept = [*kept, (key, answer)][-self._max_entries:]
            last = max(a.expires_at for _, a in kept)
            return Write(value=json.dumps([[list(astuple(k)), a.status, a.reason, [list(h) for h in a.headers],
                                            a.expires_at] for k, a in kept]),
                         ttl=max(last - now, 0.001)), None

        await self._shared.transact(self.key, change)
        return answer

    async def count(self, now: float) -> int:
        return len(_answers(await self._shared.get(self.key), now))


def _answers(text: str | None, now: float) -> list[tuple[PreflightKey, PreflightAnswer]]:
    """The answers ``text`` holds that are still fresh at ``now``, oldest first."""
    found = []
    for key, status, reason, headers, expires_at in json.loads(text) if text else ():
        if expires_at > now:
            found.append((PreflightKey(*key), PreflightAnswer(status, reason, tuple((k, v) for k, v in headers),
                                                              expires_at)))
    return found
