"""Building blocks for the ``OPENAPI_PATHS`` fragment each API module writes for its routes.

A fragment is a plain OpenAPI 3.1 ``paths`` object (``{"/api/v1/...": {"get": {...}}}``);
``proxy.openapi`` joins them. These helpers keep the repeated parts (security, problem
responses, JSON bodies) one declaration each, so every operation documents the refusals that
``proxy.api_auth.caller`` and ``proxy.api_errors`` really send. Imports nothing of the API
modules, so any of them may import it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_MEDIA = "application/problem+json"
# What caller() may answer before a route runs: no key (401), lacking the scope (403), too many (429).
AUTH_REFUSALS = (401, 403, 429)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": json_content(schema)}


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": json_content(schema)}


def problems(*statuses: int) -> dict[str, Any]:
    """Problem-document responses for ``statuses`` (429 with its ``Retry-After``)."""
    out: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {"description": HTTPStatus(status).phrase,
                                    "content": {PROBLEM_MEDIA: {"schema": ref("Problem")}}}
        if status == 429:
            response["headers"] = {"Retry-After": {"description": "whole seconds to wait", "required": True,
                                                   "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
        out[str(status)] = response
    return out


def operation(summary: str, scope: str | None, responses: dict[str, Any], *, refusals: tuple[int, ...] = (),
              **fields: Any) -> dict[str, Any]:
    """One operation: ``scope`` None is open to all (no key); else a bearer key with that scope,
    and the refusals of ``caller`` are documented with the route's own ``refusals``."""
    statuses = (*AUTH_REFUSALS, *refusals) if scope is not None else refusals
    described = summary if scope is None else f"{summary}\n\nAPI key scope: `{scope}`."
    op: dict[str, Any] = {"summary": summary.split("\n", 1)[0], "description": described,
                          "responses": {**responses, **problems(*sorted(set(statuses)))}, **fields}
    op["security"] = [] if scope is None else [{"bearer": []}]
    if scope is not None:
        op["x-scope"] = scope
    return op


def path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def query_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
