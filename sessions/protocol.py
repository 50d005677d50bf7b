"""The sync protocol's client messages as data: which types exist, which fields each carries,
which are input (controller only), and how a text frame becomes a checked ``Inbound``.

``docs/sync-protocol.md`` is the contract; the tables below are its machine-readable half and
must stay in step with it. Everything here is pure: text in, value or ``ProtocolError`` out.
A message is relayed to other browsers, so every field of it is checked here, before the relay
(``sessions.relay``) ever sees it: nothing a page sends may become code in another page.

Invariants:
- an ``Inbound`` has a known ``type``, a ``seq`` in 1..2**53-1 (0 only for ``hello``, which has
  none), and only the fields ``FIELDS`` names for its type, each of the declared shape: strings
  bounded, numbers finite and bounded, lists and objects of fixed shape, enums from a set;
- fields the table does not name are dropped, never relayed; the fields a server adds (``n``,
  ``from``) are among them, so a client cannot forge who sent a message or its relay number;
- every URL field holds an absolute http(s) URL with no control characters, spaces or
  backslashes, that the caller's ``UrlCheck`` accepts (the shell passes ``in_space``: the URL
  maps into this session's proxy space); ``window.url`` may also be "" or "about:blank";
- JSON nesting deeper than ``MAX_DEPTH`` is refused before it is parsed (a deep array would
  otherwise exhaust the parser's stack: ``RecursionError`` instead of a clean 1007).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rewriter.origins import Origin
from rewriter.space import ProxySpace

MAX_MESSAGE_BYTES = 64 * 1024
RATE_PER_SECOND = 200.0
RATE_BURST = 400.0
MAX_PATH_STEPS = 64
MAX_STEP_CHARS = 256
MAX_TEXT_CHARS = MAX_MESSAGE_BYTES
MAX_ID_CHARS = 128  # page and window ids, participant ids
MAX_KEY_CHARS = 64  # KeyboardEvent key / code names
MAX_HASH_CHARS = 256
MAX_URL_CHARS = 8192
MAX_OPTIONS = 4096
MAX_COORD = 1e9  # pixels, fractions and seconds: far beyond any real page
MAX_SEQ = 2**53 - 1  # what a JavaScript number counts exactly
MAX_MASKED_NAMES = 64  # names in one ``privacy`` message
MAX_DEPTH = 8  # the protocol's deepest value is three levels down (scroll.anchor.path)

# WebSocket close codes the sync endpoint uses (RFC 6455 section 7.4.1, 4000 is ours).
CLOSE_MALFORMED = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 1013
CLOSE_ENDED = 4000
CLOSE_REMOVED = 4003  # the participant was removed from the session (the runtime says so)

Check = Callable[[Any], bool]
UrlCheck = Callable[[str], bool]
# What window.open may legitimately carry besides a web URL.
BLANK_URLS = frozenset({"", "about:blank"})
MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta"})


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT_CHARS


def _bounded(limit: int) -> Check:
    return lambda value: isinstance(value, str) and len(value) <= limit


def _nonempty(limit: int) -> Check:
    return lambda value: isinstance(value, str) and 0 < len(value) <= limit


def _text_or_null(value: Any) -> bool:
    return value is None or _text(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ


def _small_count(limit: int) -> Check:
    return lambda value: _count(value) and value <= limit


def _number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and -MAX_COORD <= value <= MAX_COORD


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _path(value: Any) -> bool:
    return (isinstance(value, list) and 0 < len(value) <= MAX_PATH_STEPS
            and all(isinstance(step, str) and 0 < len(step) <= MAX_STEP_CHARS for step in value))


def _path_or_null(value: Any) -> bool:
    return value is None or _path(value)


def _shaped(**spec: Check) -> Check:
    """An object with exactly these keys, each passing its check."""
    keys = frozenset(spec)
    return lambda value: (isinstance(value, dict) and value.keys() == keys
                          and all(check(value[k]) for k, check in spec.items()))


def _or_null(check: Check) -> Check:
    return lambda value: value is None or check(value)


_scroll_anchor = _or_null(_shaped(path=_path, dy=_number))
_text_point = _or_null(_shaped(path=_path, offset=_small_count(MAX_TEXT_CHARS)))


def _options(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= MAX_OPTIONS and all(_small_count(MAX_OPTIONS)(i) for i in value)


def _names(value: Any) -> bool:
    return (isinstance(value, list) and len(value) <= MAX_MASKED_NAMES
            and all(_nonempty(MAX_ID_CHARS)(name) for name in value))


def _caret(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_small_count(MAX_TEXT_CHARS)(i) for i in value)


def _mods(value: Any) -> bool:
    # Clients may send modifier keys as a bit mask or as a list of names.
    if _small_count(15)(value):
        return True
    return (isinstance(value, list) and len(value) <= len(MODIFIERS)
            and all(isinstance(m, str) and m in MODIFIERS for m in value))


def _one_of(*allowed: str) -> Check:
    choices = frozenset(allowed)
    return lambda value: isinstance(value, str) and value in choices


# A serialised http(s) URL, as ``URL.href`` gives it: no C0 controls, space or DEL anywhere, no
# backslash before the query; anything looser is a spelling a browser might read differently.
_WEB_URL = re.compile(r"(?i)https?://[^\\\x00-\x20\x7f/?#]+(?:[/?#][^\x00-\x20\x7f]*)?")
_BACKSLASH_BEFORE_QUERY = re.compile(r"^[^?#]*\\")


def is_web_url(value: Any) -> bool:
    """Whether ``value`` is a plainly spelled absolute http(s) URL with a host."""
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS or not _WEB_URL.fullmatch(value):
        return False
    if _BACKSLASH_BEFORE_QUERY.match(value):
        return False
    try:
        Origin.parse(value)
    except ValueError:
        return False
    return True


def _window_url(value: Any) -> bool:
    return value in BLANK_URLS or is_web_url(value)


def proxy_url(space: ProxySpace, real_url: str) -> str | None:
    """``real_url`` in the session's proxy space, or None when it does not map into it: not a
    plain http(s) URL, or a URL on a host of the proxy itself (the control plane, another
    session) that mapping would leave as it is."""
    if not is_web_url(real_url):
        return None
    origin = Origin.parse(real_url)
    if space.is_proxy_host(origin.host):
        return None
    mapped = space.to_proxy(real_url)
    try:
        parts = urlsplit(mapped)
    except ValueError:
        return None
    if parts.scheme != space.scheme or space.origin_for_host(parts.netloc) != origin:
        return None
    return mapped


def in_space(space: ProxySpace) -> UrlCheck:
    """The ``UrlCheck`` the shell hands ``parse``: the URL maps into ``space``."""
    return lambda url: proxy_url(space, url) is not None


@dataclass(frozen=True, slots=True)
class Field:
    check: Check
    required: bool = False
    url: bool = False  # also passed to the caller's UrlCheck (unless one of BLANK_URLS)


def _req(check: Check) -> Field:
    return Field(check, True)


def _opt(check: Check) -> Field:
    return Field(check, False)


def _url(check: Check = is_web_url, required: bool = True) -> Field:
    return Field(check, required, url=True)


_id = _nonempty(MAX_ID_CHARS)

FIELDS: Mapping[str, Mapping[str, Field]] = {
    "hello": {"page": _req(_id), "window": _opt(_id), "url": _url(required=False), "last": _opt(_count),
              "vw": _opt(_number), "vh": _opt(_number)},
    "nav": {"url": _url(), "kind": _req(_one_of("load", "push", "replace", "pop", "hash", "reload", "here"))},
    "scroll": {"target": _opt(_path_or_null), "x": _req(_number), "y": _req(_number),
               "anchor": _opt(_scroll_anchor)},
    "pointer": {"x": _req(_number), "y": _req(_number), "target": _opt(_path_or_null),
                "ox": _opt(_number), "oy": _opt(_number)},
    "click": {"target": _req(_path), "ox": _opt(_number), "oy": _opt(_number), "button": _opt(_small_count(31))},
    "input": {"target": _req(_path), "value": _opt(_text_or_null), "checked": _opt(_flag),
              "selected": _opt(_options), "sel": _opt(_caret), "masked": _opt(_flag)},
    "key": {"target": _opt(_path_or_null), "key": _req(_bounded(MAX_KEY_CHARS)), "code": _opt(_bounded(MAX_KEY_CHARS)),
            "mods": _opt(_mods), "phase": _req(_one_of("down", "up"))},
    "focus": {"target": _opt(_path_or_null)},
    "select": {"anchor": _opt(_text_point), "focus": _opt(_text_point)},
    "media": {"target": _req(_path), "action": _req(_one_of("play", "pause", "seek")), "time": _opt(_number)},
    "submit": {"target": _req(_path)},
    "storage": {"area": _req(_one_of("local", "session")), "key": _opt(_text_or_null),
                "value": _opt(_text_or_null)},
    "window": {"action": _req(_one_of("open", "close")), "window": _req(_id), "url": _url(_window_url, False)},
    "digest": {"hash": _req(_bounded(MAX_HASH_CHARS)), "url": _url()},
    "control": {"action": _req(_one_of("request", "grant", "revoke", "take", "decline")),
                "to": _opt(_bounded(MAX_ID_CHARS))},
    "end": {},
    "privacy": {"names": _req(_names)},
}

# Events that act on the page: only the participant in control may send them (else dropped, counted).
INPUT_TYPES = frozenset({"nav", "scroll", "click", "input", "key", "focus", "select", "media", "submit",
                         "storage", "window"})
# Keys a client may not set: the server owns them.
SERVER_KEYS = frozenset({"type", "seq", "n", "from"})


class ProtocolError(Exception):
    """A frame broke the protocol; ``code`` is the WebSocket close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Inbound:
    type: str
    seq: int
    fields: dict[str, Any] = field(default_factory=dict)


# A JSON string (skipped whole: brackets inside it do not nest) or one bracket.
_NESTING_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep ``text``'s brackets nest outside strings, counting no further than ``limit`` + 1."""
    depth = deepest = 0
    for token in _NESTING_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif mark in "]}":
            depth -= 1
    return deepest


def parse(text: str, url_ok: UrlCheck = is_web_url) -> Inbound:
    """A checked client message from one text frame, or ``ProtocolError``.

    ``url_ok`` decides whether a URL field's value (already a plain http(s) URL) may be used in
    this session; the sync endpoint passes ``in_space(space)``."""
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise ProtocolError(CLOSE_TOO_BIG, "message too big")
    if nesting_depth(text) > MAX_DEPTH:
        raise ProtocolError(CLOSE_MALFORMED, f"JSON nested deeper than {MAX_DEPTH}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(CLOSE_MALFORMED, "not JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(CLOSE_MALFORMED, "not a JSON object")
    kind = data.get("type")
    spec = FIELDS.get(kind) if isinstance(kind, str) else None
    if spec is None or not isinstance(kind, str):
        raise ProtocolError(CLOSE_POLICY, "unknown message type")
    seq = data.get("seq", 0)
    if not _count(seq) or (kind != "hello" and seq < 1):
        raise ProtocolError(CLOSE_MALFORMED, "seq must be a positive integer")
    fields: dict[str, Any] = {}
    for name, rule in spec.items():
        if name not in data:
            if rule.required:
                raise ProtocolError(CLOSE_MALFORMED, f"missing field {name!r} in {kind}")
            continue
        value = data[name]
        if not rule.check(value):
            raise ProtocolError(CLOSE_MALFORMED, f"bad field {name!r} in {kind}")
        if rule.url and value not in BLANK_URLS and not url_ok(value):
            raise ProtocolError(CLOSE_MALFORMED, f"{kind} {name} is not a URL of this session")
        fields[name] = value
    try:
        # A lone surrogate (a "\\ud800" escape) parses, but no browser could be sent it as UTF-8.
        json.dumps(fields, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError(CLOSE_MALFORMED, f"{kind} holds text that is not Unicode") from exc
    return Inbound(kind, seq, fields)


def path_key(path: list[str] | None) -> str:
    """The protocol's *path key*: compact JSON, byte for byte what ``JSON.stringify`` gives."""
    return json.dumps(path, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class TokenBucket:
    """Message rate cap: ``rate`` per second on average, bursts up to ``burst``."""

    rate: float = RATE_PER_SECOND
    burst: float = RATE_BURST
    tokens: float = RATE_BURST
    at: float | None = None

    def __post_init__(self) -> None:
        self.tokens = min(self.tokens, self.burst)

    def allow(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
