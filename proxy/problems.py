"""Errors of the REST API as ``application/problem+json`` (RFC 9457).

Every API refusal is one of these: ``status``, a short ``title`` (the HTTP reason unless given),
a ``detail`` a person can act on, and ``error`` (the same text; clients written before problem
documents read it). Nothing from the request is echoed.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from aiohttp import web

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, detail: str, *, title: str = "", headers: dict[str, str] | None = None,
            **extra: object) -> web.Response:
    body = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail, "error": detail, **extra}
    response = web.Response(status=status, text=json.dumps(body), headers=headers)
    response.content_type = PROBLEM_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response
