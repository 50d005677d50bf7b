"""Session PINs: six digits a visitor types on the ``/pin`` page instead of following a link.

A PIN opens one session for a bounded time (``PinRules.lifetime``, 10 minutes by default) and
is used once: redeeming it takes it out of the book (the join page it leads to then asks for
the visitor's name). A session holds at most one PIN: issuing another replaces it.

Brute force is bounded three ways:
- PINs are unique among the live ones, and at most ``max_live`` are live at once, so a guess
  hits one with probability at most ``max_live / 10**6``;
- each client (an IPv4 address, or an IPv6 /64: one host commonly holds a whole /64) may fail
  ``attempts`` times per ``window`` seconds, then is refused until its oldest failure ages out
  (``retry_after`` says when); a client's failures are forgotten ``window`` seconds after its
  last one;
- the book is keyed by an HMAC of the PIN under the server's key, so finding an entry reveals
  nothing through timing about the PIN's digits, and the store of PINs holds no PIN.

Pure: the clock is an argument and randomness comes from ``secrets``. The book and each client's
failures are values kept as text (``PinBook.load``/``dump``, ``failed``), so that
``proxy.pin.Pins`` keeps them in the shared state and every server process redeems every PIN
(once).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from hashlib import sha256

PIN_DIGITS = 6


@dataclass(frozen=True, slots=True)
class PinRules:
    lifetime: float = 600.0
    attempts: int = 5
    window: float = 600.0
    max_live: int = 10_000


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


@dataclass(frozen=True, slots=True)
class _Entry:
    session_id: str
    expires_at: float


class PinBookFull(Exception):
    """``max_live`` PINs are live: no more until some are used or expire."""


TOO_MANY = ("Too many wrong PINs from this network. Wait a few minutes, then try again, "
            "or ask the agent for a link instead.")
NOT_VALID = ("This PIN is not valid (any more). Check the digits, or ask the agent "
             "for a new PIN: each PIN works once, for 10 minutes.")


@dataclass(slots=True)
class PinBook:
    """The live PINs, loaded from and dumped to their text (``load``/``dump``), so that the book
    can live in a shared state and be changed in one transaction."""

    key: bytes
    rules: PinRules = field(default_factory=PinRules)
    _live: dict[str, _Entry] = field(default_factory=dict)  # PIN's HMAC -> entry
    _by_session: dict[str, str] = field(default_factory=dict)  # session id -> PIN's HMAC

    @classmethod
    def load(cls, key: bytes, rules: PinRules, held: str | None) -> PinBook:
        """The book ``dump`` wrote (an empty one for None or for text it did not write)."""
        book = cls(key, rules)
        try:
            raw = json.loads(held) if held else {}
            entries = {str(mac): _Entry(str(sid), float(exp)) for mac, (sid, exp) in raw.items()}
        except (ValueError, TypeError, AttributeError):
            entries = {}
        book._live = entries
        book._by_session = {e.session_id: mac for mac, e in entries.items()}
        return book

    def dump(self) -> str | None:
        """The book as text (None when it holds no PIN)."""
        if not self._live:
            return None
        return json.dumps({mac: [e.session_id, e.expires_at] for mac, e in self._live.items()},
                          separators=(",", ":"))

    def _mac(self, pin: str) -> str:
        return hmac.new(self.key, pin.encode("ascii"), sha256).hexdigest()

    def issue(self, session_id: str, now: float, until: float) -> IssuedPin:
        """A fresh PIN for ``session_id`` (its previous one stops working), valid until the
        earlier of ``rules.lifetime`` from now and ``until`` (the session's own end)."""
        self.prune(now)
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

    def take(self, pin: str, now: float) -> str | None:
        """The session a well-formed live PIN opens (the PIN is used up), else None."""
        self.prune(now)
        entry = self._live.pop(self._mac(pin), None)
        if entry is None:
            return None
        self._by_session.pop(entry.session_id, None)
        return entry.session_id

    def drop(self, session_id: str) -> None:
        """Forget the session's PIN (replaced, or the session ended)."""
        mac = self._by_session.pop(session_id, None)
        if mac is not None:
            self._live.pop(mac, None)

    def prune(self, now: float) -> None:
        for mac in [m for m, e in self._live.items() if e.expires_at <= now]:
            self._by_session.pop(self._live.pop(mac).session_id, None)


def typed_pin(typed: str) -> str | PinRefused:
    """The six digits a visitor typed (spaces do not matter), or the 400 refusal."""
    digits = "".join(typed.split())
    if len(digits) != PIN_DIGITS or not digits.isascii() or not digits.isdigit():
        return PinRefused(400, f"A PIN is {PIN_DIGITS} digits. Type the {PIN_DIGITS} digits the agent gave you.")
    return digits


def _times(held: str | None, now: float, rules: PinRules) -> list[float]:
    """A client's failures still inside the window, oldest first (its value: times, spaced)."""
    try:
        times = [float(t) for t in (held or "").split()]
    except ValueError:
        times = []
    return [t for t in times if t > now - rules.window][-rules.attempts:]


def failure_wait(held: str | None, now: float, rules: PinRules) -> int:
    """Seconds a client whose failures are ``held`` must wait before another try (0: it may try now)."""
    times = _times(held, now, rules)
    if len(times) < rules.attempts:
        return 0
    return max(1, int(times[0] + rules.window - now + 0.999))


def failed(held: str | None, now: float, rules: PinRules) -> str:
    """The failures ``held`` with one more at ``now`` (only the last ``attempts`` matter)."""
    return " ".join(repr(t) for t in [*_times(held, now, rules), now][-rules.attempts:])


def client_key(address: str) -> str:
    """Who is counted for failures: an IPv4 address, an IPv6 /64 (anything else as it is)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
