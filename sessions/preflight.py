"""CORS preflight answers shared by a session's participants.

Browsers send CORS preflights (``OPTIONS`` with ``Access-Control-Request-Method``) without
cookies, so a preflight cannot prove which participant sent it. The proxy therefore forwards a
preflight once (with no credentials, as the browser would) and answers the same preflight
from here for as long as the target said it may be cached (``Access-Control-Max-Age``;
Chromium's default of 5 s when absent, capped at Chromium's 2 hours). Every participant's
browser would have cached the answer for that long too, so the target sees as many preflights
as it would from the leader alone.

Bounded: at most ``max_entries`` answers per session, the oldest dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

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
    def __init__(self, max_entries: int = 1000) -> None:
        self._answers: OrderedDict[PreflightKey, PreflightAnswer] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: PreflightKey, now: float) -> PreflightAnswer | None:
        answer = self._answers.get(key)
        if answer is None or answer.expires_at <= now:
            self._answers.pop(key, None)
            return None
        return answer

    def put(self, key: PreflightKey, status: int, reason: str, headers: Headers, now: float) -> PreflightAnswer:
        answer = PreflightAnswer(status, reason, headers, now + max_age(headers))
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._max_entries:
            self._answers.popitem(last=False)
        return answer

    def __len__(self) -> int:
        return len(self._answers)
