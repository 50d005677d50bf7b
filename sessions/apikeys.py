"""API keys and publishable site keys: what they are, how a presented token is matched, how they are kept.

A key is issued as a token ``cbk_<id>_<secret>`` (an API key, for ``Authorization: Bearer``) or
``cbsk_<id>_<secret>`` (a site key, published in the integrator's pages for the visitor snippet).
Invariants:

- The token is shown once, when the key is made; only its SHA-256 digest is kept. A token is
  32 random bytes, so a plain hash is enough (nothing to brute-force) and a match is one
  constant-time comparison of digests, looked up by the ``id`` the token carries.
- The prefix fixes the kind: a site key never matches as an API key, nor the other way round.
- A revoked key stays listed (with when) and never matches again.
- Scopes are names the caller validates (``proxy.api_auth.SCOPES``); a site key has none and
  names the origins (``scheme://host[:port]``) whose pages may use it.

``KeyRing`` is an immutable snapshot; a ``KeyStore`` hands out the current one (cheaply: it is
asked on every API request) and changes keys by read-modify-write, so that a CLI and running
servers can share one store (a file today, Redis later).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

Kind = Literal["api", "site"]
PREFIXES: Mapping[Kind, str] = {"api": "cbk", "site": "cbsk"}
KINDS: Mapping[str, Kind] = {prefix: kind for kind, prefix in PREFIXES.items()}
MAX_NAME = 100
FORMAT_VERSION = 1
_NO_DIGEST = "0" * 64  # compared against when the id is unknown, so a miss costs what a hit does


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def split_token(token: str) -> tuple[Kind, str] | None:
    """``(kind, id)`` of a well-formed token, else None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    kind = KINDS.get(prefix)
    if kind is None or not key_id or not secret:
        return None
    return kind, key_id


def normalize_origin(raw: str) -> str:
    """``https://Shop.Example:443/`` -> ``https://shop.example``; ValueError naming what is wrong."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"origin {raw!r} must look like https://shop.example (scheme and host)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"origin {raw!r} must be only scheme://host[:port], without a path, query or user")
    default = 443 if parts.scheme == "https" else 80
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    kind: Kind
    digest: str = field(repr=False)
    created_at: float
    scopes: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    revoked_at: float | None = None
    last_used_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "digest": self.digest,
                "created_at": self.created_at, "scopes": list(self.scopes), "origins": list(self.origins),
                "revoked_at": self.revoked_at, "last_used_at": self.last_used_at}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ApiKey:
        kind = raw["kind"]
        if kind not in PREFIXES:
            raise ValueError(f"key {raw.get('id')!r}: unknown kind {kind!r}")
        return cls(id=str(raw["id"]), name=str(raw["name"]), kind=kind, digest=str(raw["digest"]),
                   created_at=float(raw["created_at"]), scopes=tuple(map(str, raw.get("scopes", ()))),
                   origins=tuple(map(str, raw.get("origins", ()))),
                   revoked_at=_optional_time(raw.get("revoked_at")),
                   last_used_at=_optional_time(raw.get("last_used_at")))


def _optional_time(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Issued:
    """A key just made and its token: the only time the token exists outside the caller's hands."""

    key: ApiKey
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Every key by id (revoked ones too), immutable."""

    keys: Mapping[str, ApiKey] = field(default_factory=dict)

    def match(self, token: str, kind: Kind) -> ApiKey | None:
        """The live key of ``kind`` whose token this is, else None."""
        parsed = split_token(token)
        found = self.keys.get(parsed[1]) if parsed is not None and parsed[0] == kind else None
        same = hmac.compare_digest(digest(token), found.digest if found is not None else _NO_DIGEST)
        if found is None or not same or found.kind != kind or found.revoked:
            return None
        return found

    def issue(self, name: str, kind: Kind, now: float, *, scopes: Iterable[str] = (),
              origins: Iterable[str] = ()) -> tuple[KeyRing, Issued]:
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise ValueError(f"a key's name is 1 to {MAX_NAME} printable characters")
        scope_list, origin_list = tuple(dict.fromkeys(scopes)), tuple(dict.fromkeys(map(normalize_origin, origins)))
        if kind == "site" and (scope_list or not origin_list):
            raise ValueError("a site key names the origins that may use it (--origin) and has no API scopes")
        if kind == "api" and (origin_list or not scope_list):
            raise ValueError("an API key has at least one scope and no origins")
        key_id = secrets.token_hex(6)
        while key_id in self.keys:
            key_id = secrets.token_hex(6)
        token = f"{PREFIXES[kind]}_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, name, kind, digest(token), now, scope_list, origin_list)
        return KeyRing({**self.keys, key_id: key}), Issued(key, token)

    def revoke(self, key_id: str, now: float) -> KeyRing:
        key = self.keys.get(key_id)
        if key is None:
            raise KeyError(key_id)
        if key.revoked:
            return self
        return KeyRing({**self.keys, key_id: replace(key, revoked_at=now)})

    def touched(self, used: Mapping[str, float]) -> KeyRing:
        """The ring with ``last_used_at`` moved forward for the keys in ``used`` (id -> when)."""
        keys = dict(self.keys)
        for key_id, when in used.items():
            key = keys.get(key_id)
            if key is not None and (key.last_used_at is None or key.last_used_at < when):
                keys[key_id] = replace(key, last_used_at=when)
        return KeyRing(keys)

    def dump(self) -> str:
        keys = [key.to_json() for key in sorted(self.keys.values(), key=lambda k: (k.created_at, k.id))]
        return json.dumps({"version": FORMAT_VERSION, "keys": keys}, indent=1) + "\n"

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION or not isinstance(raw.get("keys"), list):
            raise ValueError(f"not an API key file of version {FORMAT_VERSION}")
        keys = [ApiKey.from_json(item) for item in raw["keys"]]
        return cls({key.id: key for key in keys})


class KeyStore(Protocol):
    """Where the keys live. ``ring`` is asked on every API request and must be cheap; it sees
    changes other processes made. ``update`` applies ``change`` to the newest ring atomically
    (no other update lands in between) and answers the ring it stored."""

    def ring(self) -> KeyRing: ...

    def update(self, change: Callable[[KeyRing], KeyRing]) -> KeyRing: ...


class MemoryKeyStore:
    """Keys for one process only (a server without a data dir, tests)."""

    def __init__(self, ring: KeyRing | None = None) -> None:
        self._ring = ring if ring is not None else KeyRing()

    def ring(self) -> KeyRing:
        return self._ring

    def update(self, change: Callable[[KeyRing], KeyRing]) -> KeyRing:
        self._ring = change(self._ring)
        return self._ring
