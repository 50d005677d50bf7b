"""``GET /api/v1/openapi.json``: the REST API described in OpenAPI 3.1 (no key needed).

The document is assembled, not written here: ``info``, ``servers`` (this server's control
origin), the shared schemas (``proxy.openapi_schemas``), the bearer security scheme, and the
``OPENAPI_PATHS`` fragment of every module in ``API_MODULES``, each of which describes its own
routes (built with ``proxy.openapi_parts``). A module not written yet, or without a fragment
yet, is skipped; two fragments naming the same operation is a bug and fails loudly. A
schemathesis run against the live server (tests/test_openapi.py) keeps the fragments true.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from proxy.config import Config
from proxy.keys import CONFIG
from proxy.openapi_parts import answer, operation
from proxy.openapi_schemas import SCHEMAS

# Modules whose OPENAPI_PATHS make up the document, in the order their paths are listed.
API_MODULES = (
    "proxy.openapi",
    "proxy.api_sessions",
    "proxy.api_participants",
    "proxy.audit_api",
    "proxy.timeline_api",
    "proxy.visitors",
    "proxy.webhooks",
    "proxy.events_api",
)
DOCUMENT_PATH = "/api/v1/openapi.json"
routes = web.RouteTableDef()

OPENAPI_PATHS: dict[str, Any] = {
    DOCUMENT_PATH: {"get": operation(
        "This document: the REST API in OpenAPI 3.1", None,
        {"200": answer("the OpenAPI document", {"type": "object", "required": ["openapi", "paths"]})},
        operationId="getOpenApi")},
}


def fragments(modules: Iterable[str] = API_MODULES) -> list[tuple[str, dict[str, Any]]]:
    """``(module, OPENAPI_PATHS)`` of each module that exists and has a fragment."""
    found = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise  # the module exists but something it imports does not: a real error
            continue
        paths = getattr(module, "OPENAPI_PATHS", None)
        if paths is not None:
            found.append((name, paths))
    return found


def merge_paths(parts: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    owner: dict[tuple[str, str], str] = {}
    for module, fragment in parts:
        for path, item in fragment.items():
            for method in item:
                if (path, method) in owner:
                    raise ValueError(f"{method.upper()} {path} is described by both {owner[path, method]} and "
                                     f"{module}")
                owner[path, method] = module
            paths.setdefault(path, {}).update(item)
    return paths


def document(config: Config, modules: Iterable[str] = API_MODULES) -> dict[str, Any]:
    try:
        release = version("cobrowse")
    except PackageNotFoundError:
        release = "0"
    return {
        "openapi": "3.1.0",
        "info": {"title": "cobrowse REST API", "version": release,
                 "description": "Start and run co-browsing sessions. Send an API key as "
                                "`Authorization: Bearer <key>`: the server's own key, or one made with "
                                "`cobrowse keys create NAME --scope ...`. Errors are `application/problem+json`; "
                                "429 answers carry `Retry-After` in seconds.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": config.control_origin}],
        "security": [{"bearer": []}],
        "paths": merge_paths(fragments(modules)),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API key (`cobrowse keys create`) or the server's "
                                                          "own key"}},
        },
    }


@routes.get(DOCUMENT_PATH)
async def openapi_json(request: web.Request) -> web.Response:
    body = json.dumps(document(request.app[CONFIG]), indent=1).encode()
    return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-cache"})
