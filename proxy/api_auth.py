"""Who calls the REST API, and may they: one check every ``/api/v1`` route makes.

``caller(request, scope)`` answers the calling key (a ``Caller``) or the refusal to send back,
always a problem document (``proxy.problems``):

- 429 with ``Retry-After`` when the client's address has failed to authenticate too often
  (``Config.auth_failure_rate``/``_burst``): checked before the key, so a guesser learns
  nothing more once refused;
- 401 without a known key (the failure counts against the address);
- 403 when the key lacks the scope;
- 429 with ``Retry-After`` when the key has used up its requests (``Config.api_rate``/``_burst``,
  a token bucket per key).

The buckets are in the shared state (``proxy.ratelimit``): every server process on one store
counts a key's requests and an address's failures together.

Keys: the server's own (``--api-key``, ``$COBROWSE_API_KEY`` or the generated one) is the key
``default`` with every scope; the others are the live API keys of the key store
(``sessions.apikeys``; ``<data dir>/api-keys.json`` made by ``cobrowse keys``, else in memory),
seen without a restart. Site keys are never API keys: ``site_key`` is how the visitor snippet's
endpoints look theirs up. Last use is noted in memory and written to the store once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from proxy.api_keyfile import FileKeyStore
from proxy.config import Config
from proxy.keys import CONFIG, SHARED
from proxy.problems import problem
from proxy.ratelimit import Buckets, Rate, retry_after
from sessions.apikeys import KeyStore, MemoryKeyStore

# What a key may do. A route names the one scope it needs.
SESSIONS_READ = "sessions:read"
SESSIONS_WRITE = "sessions:write"
AUDIT_READ = "audit:read"
WEBHOOKS = "webhooks:manage"
VISITORS_WATCH = "visitors:watch"
SCOPES = (SESSIONS_READ, SESSIONS_WRITE, AUDIT_READ, WEBHOOKS, VISITORS_WATCH)

DEFAULT_KEY_ID = "default"
USAGE_FLUSH = 60.0  # seconds between writes of the keys' last use to the store
log = logging.getLogger("cobrowse.keys")


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class SiteKey:
    """A publishable key of the visitor snippet: usable only from pages of ``origins``."""

    key_id: str
    name: str
    origins: frozenset[str]

    def allows(self, origin: str) -> bool:
        return origin in self.origins


@dataclass(slots=True)
class Guard:
    """The key store and the server's rate limits, one per application."""

    store: KeyStore
    requests: Buckets
    failures: Buckets
    used: dict[str, float] = field(default_factory=dict)  # key id -> last use (wall clock), not yet stored


GUARD = web.AppKey("api_guard", Guard)


def key_store(config: Config) -> KeyStore:
    return FileKeyStore(config.data_dir) if config.data_dir else MemoryKeyStore()


def install(app: web.Application, store: KeyStore | None = None) -> None:
    """Give ``app`` its key store and rate limits (from its ``Config``), and the task that notes last use."""
    config = app[CONFIG]
    app[GUARD] = Guard(store if store is not None else key_store(config),
                       Buckets(app[SHARED], "api", Rate(config.api_rate, config.api_burst)),
                       Buckets(app[SHARED], "auth-failures", Rate(config.auth_failure_rate, config.auth_failure_burst)))
    app.cleanup_ctx.append(_usage_ctx)


def bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _known(request: web.Request, token: str) -> Caller | None:
    if not token:
        return None
    server_key = request.app[CONFIG].api_key
    if hmac.compare_digest(token.encode(), server_key.encode()):
        return Caller(DEFAULT_KEY_ID, "server key", frozenset(SCOPES))
    key = request.app[GUARD].store.ring().match(token, "api")
    return None if key is None else Caller(key.id, key.name, frozenset(key.scopes))


def _too_many(wait: float, detail: str) -> web.Response:
    return problem(429, detail, headers={"Retry-After": retry_after(wait)})


async def caller(request: web.Request, scope: str) -> Caller | web.Response:
    guard, now = request.app[GUARD], time.time()
    address = request.remote or ""
    wait = await guard.failures.wait(address, now)
    if wait > 0:
        return _too_many(wait, "too many requests with a missing or wrong API key from your address; "
                               "wait for the time in Retry-After, then send a valid key")
    found = _known(request, bearer(request))
    if found is None:
        await guard.failures.take(address, now)
        return problem(401, "missing or wrong API key: send 'Authorization: Bearer <key>' with the server's key "
                            "or one made by `cobrowse keys create`",
                       headers={"WWW-Authenticate": 'Bearer realm="cobrowse"'})
    if scope not in found.scopes:
        return problem(403, f"the API key {found.name!r} lacks the scope {scope!r}; "
                            f"create a key with it: cobrowse keys create NAME --scope {scope}")
    wait = await guard.requests.take(found.key_id, now)
    if wait > 0:
        return _too_many(wait, f"the API key {found.name!r} sent more than {guard.requests.rate.per_second:g} "
                               "requests a second; wait for the time in Retry-After")
    guard.used[found.key_id] = time.time()
    return found


def site_key(app: web.Application, token: str) -> SiteKey | None:
    """The live site key whose token this is, else None (an API key never is one)."""
    key = app[GUARD].store.ring().match(token, "site") if token else None
    return None if key is None else SiteKey(key.id, key.name, frozenset(key.origins))


async def flush_usage(app: web.Application) -> None:
    """Write the keys' last use noted since the previous flush (the server's own key is not stored)."""
    guard = app[GUARD]
    used = {key_id: when for key_id, when in guard.used.items() if key_id != DEFAULT_KEY_ID}
    guard.used.clear()
    if used:
        await asyncio.to_thread(guard.store.update, lambda ring: ring.touched(used))


async def _usage_ctx(app: web.Application) -> AsyncIterator[None]:
    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(USAGE_FLUSH)
            try:
                await flush_usage(app)
            except OSError as exc:
                log.warning("keys.usage_not_written error=%s", exc)

    task = asyncio.create_task(flush_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(OSError):
        await flush_usage(app)
