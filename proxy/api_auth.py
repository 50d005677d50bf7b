"""Who calls the REST API, and may they: one check every ``/api/v1`` route makes.

``caller(request, scope)`` answers the calling key (a ``Caller``) or the refusal to send back
(401 without a known key, 403 when the key lacks the scope). The server's own key (``--api-key``,
``$COBROWSE_API_KEY`` or the generated one) is the key ``default`` with every scope.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from proxy.keys import CONFIG
from proxy.problems import problem

# What a key may do. A route names the one scope it needs.
SESSIONS_READ = "sessions:read"
SESSIONS_WRITE = "sessions:write"
AUDIT_READ = "audit:read"
WEBHOOKS = "webhooks:manage"
VISITORS_WATCH = "visitors:watch"
SCOPES = (SESSIONS_READ, SESSIONS_WRITE, AUDIT_READ, WEBHOOKS, VISITORS_WATCH)

DEFAULT_KEY_ID = "default"


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    name: str
    scopes: frozenset[str]


def bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _server_key(request: web.Request, token: str) -> Caller | None:
    key = request.app[CONFIG].api_key
    if token and hmac.compare_digest(token.encode(), key.encode()):
        return Caller(DEFAULT_KEY_ID, "server key", frozenset(SCOPES))
    return None


def caller(request: web.Request, scope: str) -> Caller | web.Response:
    token = bearer(request)
    found = _server_key(request, token)
    if found is None:
        return problem(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": 'Bearer realm="cobrowse"'})
    if scope not in found.scopes:
        return problem(403, f"the API key {found.name!r} lacks the scope {scope!r}; "
                            f"create a key with it: cobrowse keys create --scope {scope} NAME")
    return found
