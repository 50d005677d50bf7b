"""Which session store a server runs on: the ``store`` setting (``--store``) read into a backend.

``memory`` (the default) is ``sessions.store.MemoryStore``: one process, nothing to set up.
``redis://[user:password@]host:port/db`` (``rediss://`` for TLS) is ``proxy.redis_store.RedisStore``,
shared by every process given the same URL. ``shared_for`` gives the ``sessions.shared.Shared``
that goes with a store (the relay, the response store and the rest of what processes share):
in this process beside a ``MemoryStore``, on the same Redis server and namespace beside a
``RedisStore``. ``connect`` checks that the server answers before
the server starts listening, so a wrong URL or a stopped Redis stops ``serve`` at once with a
message naming the URL, never its password (``proxy.redis_store.redacted``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from proxy.redis_shared import TIMEOUT, RedisShared
from proxy.redis_store import SCHEMES, RedisStore, redacted
from sessions.shared import MemoryShared, Shared
from sessions.store import MemoryStore, SessionStore

MEMORY: Final = "memory"
# A Redis that stops answering must cost a request a second or two, not the client's defaults (5 s
# per try, 10 tries): the request is then answered 503 (proxy.store_down). A stopped Redis refuses
# connections at once (503 well within a second); the answer's 2 s allows a loaded machine's
# scheduling delays, which on a 2-core CI machine passed 1 s. A refused or reset
# connection (a pooled one that outlived a Redis restart) is tried once more at once; a timeout is not.
CONNECT_TIMEOUT: Final = 1.0
OPERATION_TIMEOUT: Final = 2.0
CLIENT_OPTIONS: Final[dict[str, Any]] = {
    "socket_connect_timeout": CONNECT_TIMEOUT,
    "socket_timeout": OPERATION_TIMEOUT,
}


def client_options() -> dict[str, Any]:
    """Options for every Redis client of a server (a retry policy is state: a fresh one each)."""
    return {**CLIENT_OPTIONS, "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))}


class StoreUnavailable(Exception):
    """The configured store cannot be used; the message is fit to print (no password)."""


def _redis(url: str) -> SessionStore:
    return RedisStore.from_url(url, **client_options())


# A store URL's scheme -> the backend it opens.
BACKENDS: Final[dict[str, Callable[[str], SessionStore]]] = {
    MEMORY: lambda _url: MemoryStore(),
    **{scheme: _redis for scheme in SCHEMES},
}


def scheme_of(url: str) -> str:
    return MEMORY if url.strip() == MEMORY else urlsplit(url).scheme


async def connect(url: str) -> SessionStore:
    """The store ``url`` names, checked to answer (raises ``StoreUnavailable``)."""
    opener = BACKENDS.get(scheme_of(url))
    if opener is None:
        raise StoreUnavailable(f"store {redacted(url)!r}: expected {MEMORY} or redis://host:port/db "
                               "(rediss:// for TLS; a password goes in the URL: redis://:PASSWORD@host:port/0)")
    store = opener(url)
    if isinstance(store, RedisStore):
        try:
            await store.ping()
        except (RedisError, OSError) as exc:
            await store.close()
            raise StoreUnavailable(f"store {redacted(url)}: Redis cannot be reached: {exc}") from exc
    return store


def shared_for(store: SessionStore) -> Shared:
    """The shared state that goes with ``store`` (see the module's docstring)."""
    if isinstance(store, RedisStore):
        client = store.binary_client(socket_timeout=TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT)
        return RedisShared(client, store.namespace, store.where)
    return MemoryShared()
