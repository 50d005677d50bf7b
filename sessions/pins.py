"""Session PINs: six digits a visitor types on the ``/pin`` page instead of following a link.

A PIN opens one session for a bounded time (``PinRules.lifetime``, 10 minutes by default) and
is used once: redeeming it takes it out of the book (the join page it leads to then asks for
the visitor's name). A session holds at most one PIN: issuing another replaces it.

Brute force is bounded three ways:
- PINs are unique among the live ones, and at most ``max_live`` are live at once, so a guess
  hits one with probability at most ``max_live / 10**6``;
- each client (an IPv4 address, or an IPv6 /64: one host commonly holds a whole /64) may fail
  ``attempts`` times per ``window`` seconds, then is refused until its oldest failure ages out
  (``retry_after`` says when); at most ``max_clients`` clients are remembered (the oldest go);
- the book is keyed by an HMAC of the PIN under the server's key, so finding an entry reveals
  nothing through timing about the PIN's digits, and the store of PINs holds no PIN.

Pure: the clock is an argument and randomness comes from ``secrets``. The book lives in one
server process (``proxy.api_participants`` keeps it in the app).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from hashlib import sha256

PIN_DIGITS = 6


@dataclass(frozen=True, slots=True)
class PinRules:
    lifetime: float = 600.0
    attempts: int = 5
    window: float = 600.0
    max_live: int = 10_000
    max_clients: int = 100_000


@dataclass(frozen=True, slots=True)
class IssuedPin:
    pin: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class PinRefused:
    """Why a PIN did not open a session: ``status`` 400 (not six digits), 403 (no such live PIN)
    or 429 (too many failures from this client; ``retry_after`` seconds)."""

    status: int
    message: str
    retry_after: int = 0


@dataclass(slots=True)
class _Entry:
    session_id: str
    expires_at: float


class PinBookFull(Exception):
    """``max_live`` PINs are live: no more until some are used or expire."""


@dataclass(slots=True)
class PinBook:
    key: bytes
    rules: PinRules = field(default_factory=PinRules)
    _live: dict[str, _Entry] = field(default_factory=dict)  # PIN's HMAC -> entry
    _by_session: dict[str, str] = field(default_factory=dict)  # session id -> PIN's HMAC
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def _mac(self, pin: str) -> str:
        return hmac.new(self.key, pin.encode("ascii"), sha256).hexdigest()

    def issue(self, session_id: str, now: float, until: float) -> IssuedPin:
        """A fresh PIN for ``session_id`` (its previous one stops working), valid until the
        earlier of ``rules.lifetime`` from now and ``until`` (the session's own end)."""
        self._prune(now)
        self.drop(session_id)
        if len(self._live) >= self.rules.max_live:
            raise PinBookFull(f"{self.rules.max_live} PINs are live on this server; try again in a few minutes")
        while True:
            pin = f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"
            mac = self._mac(pin)
            if mac not in self._live:
                break
        expires = min(now + self.rules.lifetime, until)
        self._live[mac] = _Entry(session_id, expires)
        self._by_session[session_id] = mac
        return IssuedPin(pin, expires)

    def redeem(self, pin: str, client: str, now: float) -> str | PinRefused:
        """The session a typed PIN opens (the PIN is used up), or why not."""
        who = client_key(client)
        wait = self._wait(who, now)
        if wait:
            return PinRefused(429, "Too many wrong PINs from this network. Wait a few minutes, then try again, "
                                   "or ask the agent for a link instead.", wait)
        typed = "".join(pin.split())
        if len(typed) != PIN_DIGITS or not typed.isascii() or not typed.isdigit():
            return PinRefused(400, f"A PIN is {PIN_DIGITS} digits. Type the {PIN_DIGITS} digits the agent gave you.")
        self._prune(now)
        mac = self._mac(typed)
        entry = self._live.get(mac)
        if entry is None:
            self._fail(who, now)
            return PinRefused(403, "This PIN is not valid (any more). Check the digits, or ask the agent "
                                   "for a new PIN: each PIN works once, for 10 minutes.")
        del self._live[mac]
        self._by_session.pop(entry.session_id, None)
        return entry.session_id

    def drop(self, session_id: str) -> None:
        """Forget the session's PIN (replaced, or the session ended)."""
        mac = self._by_session.pop(session_id, None)
        if mac is not None:
            self._live.pop(mac, None)

    def _prune(self, now: float) -> None:
        for mac in [m for m, e in self._live.items() if e.expires_at <= now]:
            self._by_session.pop(self._live.pop(mac).session_id, None)

    def _fail(self, who: str, now: float) -> None:
        times = self._failures.pop(who, None) or deque()
        times.append(now)
        self._failures[who] = times
        while len(self._failures) > self.rules.max_clients:
            self._failures.popitem(last=False)

    def _wait(self, who: str, now: float) -> int:
        """Seconds ``who`` must wait before another try (0: it may try now)."""
        times = self._failures.get(who)
        if times is None:
            return 0
        while times and times[0] <= now - self.rules.window:
            times.popleft()
        if not times:
            del self._failures[who]
            return 0
        if len(times) < self.rules.attempts:
            return 0
        return max(1, int(times[0] + self.rules.window - now + 0.999))


def client_key(address: str) -> str:
    """Who is counted for failures: an IPv4 address, an IPv6 /64 (anything else as it is)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
