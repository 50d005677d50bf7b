"""Which follower request gets which of the driver's responses: keys, normalisation, order.

Two browsers running the same page make the same requests, except where the page (or the
browser) puts something volatile in them: cache busters (``?_=1712345678901``), values from
``Date.now()`` or ``Math.random()``, UUIDs and random tokens, multipart boundaries. A
``RequestKey`` is the request with those parts replaced by placeholders, so the driver's
request and the follower's twin get the same key:

- method (upper case), URL normalised: scheme and host lower-cased, fragment dropped, query
  parameters sorted by name (stable for repeated names), cache-buster parameters removed, and
  every query name, query value and path segment that *as a whole* looks volatile replaced by
  a placeholder (``VOLATILE`` below is the table);
- a digest of the body, normalised the same way for form and JSON bodies; multipart bodies
  get their boundary replaced; other bodies are hashed as sent;
- the ``Range`` header (a follower's media element asks its own ranges; only equal ranges
  share a response).

``Ledger`` keeps the order, page by page: the driver's committed top-level documents cut its
responses into one group per page, and the k-th request with key K a follower's page makes gets
the k-th driver response with key K in the group of the page the follower was served (a
stylesheet two pages share is paired with the copy made for the same page, never with the
other page's). A participant's history starts when it starts following: one that never drove
lands on a page first (a late joiner then replays, in order, what the driver's copy of that
page got); a former driver is on its own latest page and has seen all of its own responses.

Everything here is pure (no I/O, no clock); ``normalise_url`` and ``key_for`` never raise.
The heuristics accept a known cost: two requests that differ only in a value that looks
random share a key, so a follower asking for one the driver never asked for may get the
other (order still pairs them correctly when both browsers run the same page).
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that only defeat caches; removed whatever their value.
CACHE_BUSTERS = frozenset({
    "_", "__", "t", "ts", "cb", "nocache", "no_cache", "rand", "random", "rnd", "nonce",
    "timestamp", "_t", "_ts", "cachebuster", "cache_buster", "bust", "_dc",
})

_TIME = re.compile(r"\d{13}|\d{10}(?:\.\d{1,6})?")  # Date.now(), Unix seconds
_RANDOM = re.compile(r"0\.\d{6,}(?:e-?\d+)?")  # Math.random()
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-f]{16,}|[0-9A-F]{16,}")
_BASE36 = re.compile(r"[0-9a-z]{8,}|[0-9A-Z]{8,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def _mixed(value: str, digits: int, letters: int) -> bool:
    return sum(c.isdigit() for c in value) >= digits and sum(c.isalpha() for c in value) >= letters


def _base64ish(value: str) -> bool:
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value))


# Placeholder -> test on a whole value (already percent-decoded). First match wins.
VOLATILE: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("{time}", lambda v: _TIME.fullmatch(v) is not None),
    ("{random}", lambda v: _RANDOM.fullmatch(v) is not None),
    ("{uuid}", lambda v: _UUID.fullmatch(v) is not None),
    ("{hex}", lambda v: _HEX.fullmatch(v) is not None),
    # Math.random().toString(36).slice(2): ~11 characters, often with a single digit.
    ("{token}", lambda v: _BASE36.fullmatch(v) is not None and (_mixed(v, 2, 2) or (len(v) >= 9 and _mixed(v, 1, 1)))),
    ("{token}", lambda v: _BASE64.fullmatch(v) is not None and _base64ish(v)),
)

# Bodies larger than this are hashed as sent (normalising them is not worth the time).
NORMALISE_BODY_LIMIT = 1024 * 1024


def volatile_placeholder(value: str) -> str | None:
    """The placeholder for a value that looks volatile as a whole, else None."""
    if len(value) > 512:
        return None
    for placeholder, test in VOLATILE:
        if test(value):
            return placeholder
    return None


def _stable(value: str) -> str:
    return volatile_placeholder(value) or value


def _normalise_path(path: str) -> str:
    segments = path.split("/")
    return "/".join(quote(_stable(unquote(s)), safe="!$&'()*+,;=:@-._~") for s in segments)


def normalise_query(query: str) -> str:
    """Cache busters removed, volatile names and values replaced, parameters sorted by name.

    Names too: a bare cache buster (``/api/kernels?1712345678901``) is a name without a value."""
    pairs = [(_stable(k), _stable(v)) for k, v in parse_qsl(query, keep_blank_values=True)
             if k.lower() not in CACHE_BUSTERS]
    pairs.sort(key=lambda kv: kv[0])
    return urlencode(pairs)


def normalise_url(url: str) -> str:
    """The URL with its volatile parts replaced (see the module docstring). Never raises."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        return urlunsplit((parts.scheme.lower(), netloc, _normalise_path(parts.path or "/"),
                           normalise_query(parts.query), ""))
    except ValueError:
        return url.split("#", 1)[0]


def _normalise_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise_json(v) for k, v in value.items() if k.lower() not in CACHE_BUSTERS}
    if isinstance(value, list):
        return [_normalise_json(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return _stable(repr(value))
    if isinstance(value, str):
        return _stable(value)
    return value


_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)


def normalise_body(content_type: str | None, body: bytes) -> bytes:
    """The body with volatile parts replaced, for digesting. Never raises."""
    if not body or len(body) > NORMALISE_BODY_LIMIT:
        return body
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            return normalise_query(body.decode("utf-8")).encode()
        if kind == "application/json" or kind.endswith("+json"):
            return json.dumps(_normalise_json(json.loads(body)), sort_keys=True).encode()
        if kind.startswith("multipart/"):
            found = _BOUNDARY.search(content_type or "")
            if found:
                return body.replace(found.group(1).encode("latin-1"), b"{boundary}")
    except (ValueError, UnicodeError, RecursionError):
        return body
    return body


@dataclass(frozen=True, slots=True)
class RequestKey:
    """What a follower request must share with the driver's to get its response."""

    method: str
    url: str  # normalised
    body: str = ""  # digest of the normalised body; "" for none
    range: str = ""

    @property
    def loose(self) -> tuple[str, str]:
        """Method and URL only: the fallback for a non-GET whose body matched nothing."""
        return (self.method, self.url)


def key_for(method: str, url: str, content_type: str | None = None, body: bytes | None = None,
            range_header: str | None = None) -> RequestKey:
    digest = hashlib.sha256(normalise_body(content_type, body)).hexdigest()[:32] if body else ""
    return RequestKey(method.upper(), normalise_url(url), digest, (range_header or "").strip())


_READS = frozenset({"GET", "HEAD"})


@dataclass(slots=True)
class _Follower:
    page: int  # the entry its current top-level page was served from (0: none known)
    seen: int  # entries up to this id are its own (it drove until then): never handed back to it
    consumed: dict[RequestKey, int] = field(default_factory=dict)  # per key, on ``page`` only
    floor: int = 0  # the driver's latest write (non-GET) this follower was served: no read before it


@dataclass(slots=True)
class Ledger:
    """Driver responses per key, in order, grouped by the driver's page, and how far each
    follower has used the group of the page it shows.

    Entries are named by the caller's ids (ints, increasing). The ledger never forgets an id;
    whether its body is still held is the response store's business.

    Pages: the driver's top-level documents that commit (``record(page=True)``) cut its history
    into groups; a group holds the entries recorded while that page was the driver's latest
    (its subresources, API calls, frames). A follower's page is the entry its own top-level
    document was served from (``enter``); its k-th request for a key is paired with the k-th
    entry for that key in that page's group, never with a copy another page of the driver got.
    A participant starting to follow has no page until it lands on one (0: every document is
    newer), except a former driver, which is on its own latest page and has seen its own entries.

    Reads again after a write: once a follower has been served the driver's answer to a write
    (any method but GET/HEAD), reading a key again that it already read on its page skips the
    driver's reads of it recorded before that answer. A page's timers (polls) run out of step on
    the two browsers: the driver's poll just before its save holds the state before the save,
    and a follower reading after its own (twin) save must not be handed it; it gets the driver's
    next read of that key, or the latest after the wait. A key's first read on the page is
    paired as before (a page still loading its chunks while it writes is not held back).
    """

    by_key: dict[RequestKey, list[int]] = field(default_factory=dict)
    by_loose: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    pages: list[int] = field(default_factory=list)  # the driver's committed top-level documents
    documents: dict[str, int] = field(default_factory=dict)  # normalised URL -> latest top-level response
    drove_until: dict[str, int] = field(default_factory=dict)  # participant -> its last entry id
    followers: dict[str, _Follower] = field(default_factory=dict)
    last_id: int = 0

    def record(self, driver: str, key: RequestKey, entry_id: int, *, navigation: bool = False,
               page: bool = False) -> None:
        """The driver got a response for ``key``; followers may now be paired with it.

        ``navigation``: a top-level document response (a redirect included); ``page``: one
        that commits, so later entries belong to it."""
        self.by_key.setdefault(key, []).append(entry_id)
        self.by_loose.setdefault(key.loose, []).append(entry_id)
        self.drove_until[driver] = entry_id
        self.followers.pop(driver, None)  # when it follows again, it starts afresh
        self.last_id = max(self.last_id, entry_id)
        if navigation:
            self.documents[key.url] = entry_id
        if page:
            self.pages.append(entry_id)

    @property
    def current_page(self) -> int:
        """The driver's latest committed top-level document (0: none yet)."""
        return self.pages[-1] if self.pages else 0

    def _page_at(self, entry_id: int) -> int:
        """The driver's page that was current when ``entry_id`` was recorded (0: none)."""
        at = bisect_right(self.pages, entry_id)
        return self.pages[at - 1] if at else 0

    def _follower(self, participant: str) -> _Follower:
        follower = self.followers.get(participant)
        if follower is None:
            drove = self.drove_until.get(participant)
            page = 0 if drove is None else self._page_at(drove)
            follower = self.followers[participant] = _Follower(page, drove or 0)
        return follower

    def page_of(self, participant: str) -> int:
        return self._follower(participant).page

    def enter(self, participant: str, entry_id: int) -> None:
        """The follower's top-level document was served from ``entry_id``: its page from now on."""
        follower = self._follower(participant)
        follower.page = entry_id
        follower.consumed = {}

    def _group(self, follower: _Follower) -> tuple[int, int | None]:
        """The id range (start, end) of the follower's page group; end None while it is open."""
        start = follower.page
        after = bisect_right(self.pages, start)
        return max(start, follower.seen), (self.pages[after] if after < len(self.pages) else None)

    def _in_group(self, follower: _Follower, key: RequestKey) -> list[int]:
        ids = self.by_key.get(key, [])
        start, end = self._group(follower)
        low = bisect_right(ids, start)
        high = len(ids) if end is None else bisect_left(ids, end)
        return ids[low:high]

    def claim(self, participant: str, key: RequestKey) -> int | None:
        """The next driver entry for this follower and key on its page, or None (none yet)."""
        follower = self._follower(participant)
        group = self._in_group(follower, key)
        used = follower.consumed.get(key, 0)
        if used and key.method in _READS:  # a read again (a poll, a refresh) after a write
            used = max(used, bisect_left(group, follower.floor))
        if used >= len(group):
            return None
        follower.consumed[key] = used + 1
        if key.method not in _READS:
            follower.floor = max(follower.floor, group[used])
        return group[used]

    def fallback(self, participant: str, key: RequestKey) -> tuple[int | None, bool]:
        """When this follower's page has no more driver entries for ``key``: the latest entry
        recorded before the page's group ended (the copy the driver's browser had then), and
        whether the group has ended (the driver left that page: nothing more will come)."""
        follower = self._follower(participant)
        _, end = self._group(follower)
        ids = self.by_key.get(key, [])
        before = ids if end is None else ids[:bisect_left(ids, end)]
        return (before[-1] if before else None), end is not None

    def latest_document(self, url: str) -> int | None:
        return self.documents.get(url)

    def latest(self, key: RequestKey) -> int | None:
        ids = self.by_key.get(key)
        return ids[-1] if ids else None

    def latest_loose(self, key: RequestKey) -> int | None:
        ids = self.by_loose.get(key.loose)
        return ids[-1] if ids else None


# -- the JSON form (the response store's shared state holds the ledger as text) ---------------

def _key_json(key: RequestKey) -> list[str]:
    return [key.method, key.url, key.body, key.range]


def key_row(key: RequestKey, ids: list[int]) -> list[Any]:
    """One row of ``ledger_json``'s ``keys``: the key and the ids recorded for it."""
    return [*_key_json(key), ids]


def ledger_json(ledger: Ledger, *, keys: bool = True, places: dict[RequestKey, int] | None = None) -> dict[str, Any]:
    """The ledger as JSON-able data (``by_loose`` and ``last_id`` follow from the rest); each key
    is written once (``key_row``; left out with ``keys=False`` for a caller that writes the rows
    itself, in ``by_key``'s order), followers name keys by their place in ``keys`` (``places``:
    those places, when the caller keeps them)."""
    if places is None:
        places = {key: n for n, key in enumerate(ledger.by_key)}
    return {
        **({"keys": [key_row(key, ids) for key, ids in ledger.by_key.items()]} if keys else {}),
        "pages": ledger.pages,
        "documents": ledger.documents,
        "drove": ledger.drove_until,
        "followers": {name: [f.page, f.seen, f.floor, [[places[k], n] for k, n in f.consumed.items()]]
                      for name, f in ledger.followers.items()},
    }


def ledger_of(data: dict[str, Any]) -> Ledger:
    """The ledger ``ledger_json`` gave ``data`` for (equal in every field)."""
    keys = [RequestKey(method, url, body, range_) for method, url, body, range_, _ in data["keys"]]
    by_key = {key: list(row[4]) for key, row in zip(keys, data["keys"], strict=True)}
    by_loose: dict[tuple[str, str], list[int]] = {}
    for key, ids in by_key.items():
        by_loose.setdefault(key.loose, []).extend(ids)
    for ids in by_loose.values():
        ids.sort()
    followers = {name: _Follower(page, seen, {keys[k]: n for k, n in consumed}, floor)
                 for name, (page, seen, floor, consumed) in data["followers"].items()}
    return Ledger(by_key, by_loose, list(data["pages"]), dict(data["documents"]), dict(data["drove"]),
                  followers, max((ids[-1] for ids in by_key.values() if ids), default=0))
