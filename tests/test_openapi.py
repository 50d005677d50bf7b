"""The OpenAPI document at ``/api/v1/openapi.json`` is served, complete and true.

- served without a key, valid OpenAPI 3.1 (openapi-spec-validator), every ``/api/v1`` route the
  server has is in it (a route without a fragment fails here, naming it);
- aiohttp's own refusals under ``/api/`` (404, 405, 413) are problem documents; other paths keep
  their own pages;
- schemathesis against the LIVE server (started in a thread on loopback, with a key made by
  ``cobrowse keys create``): for every documented operation, generated requests (valid ones, and
  ones that break the schema) get no 5xx and no answer outside the document (status, content
  type, headers, body schema). Examples are bounded (``EXAMPLES`` in all, 5 to 15 per operation and mode) so the run
  stays well under a minute; endless streams (``text/event-stream``) are left out, having no
  whole body to check.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from schemathesis import GenerationMode, checks
from world.apikeys import create_key
from world.harness import Cobrowse, StartCobrowse, start_cobrowse, stop_cobrowse
from world.targets import serve

from proxy.api_errors import api_problems
from proxy.config import Config
from proxy.openapi import document, fragments, merge_paths

DOC = "/api/v1/openapi.json"
EXAMPLES = 600  # generated requests in all, shared among the operations and both modes
CALL_TIMEOUT = 20  # seconds; no documented operation takes near that on loopback
STREAM_MEDIA = "text/event-stream"
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]


async def test_the_document_is_served_without_a_key_and_names_every_api_route(start_server: StartCobrowse) -> None:
    server = await start_server()
    reply = await server.api("GET", DOC, key=None)
    assert reply.status == 200 and (reply.header("Content-Type") or "").startswith("application/json")
    doc = json.loads(reply.body)
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": server.control}]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"Problem", "Session", "Participant"} <= set(doc["components"]["schemas"])
    routed = set()
    for route in server.runner.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/v1/") and route.method != "HEAD":
            routed.add((route.method.lower(), path))
    documented = {(method, path) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    assert routed - documented == set(), "routes without an OPENAPI_PATHS fragment"
    assert documented - routed == set(), "documented operations the server does not have"


async def test_every_operation_the_document_secures_refuses_a_request_without_a_key(
        start_server: StartCobrowse) -> None:
    server = await start_server(auth_failure_burst=1000)  # every refusal here is a failed authentication
    doc = json.loads((await server.api("GET", DOC, key=None)).body)
    secured = [(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
               for path, item in doc["paths"].items() for method, op in item.items()
               if method != "parameters" and op.get("security", doc["security"])]
    assert len(secured) >= 5
    for method, path in secured:
        reply = await server.api(method, path, {}, key=None)
        assert reply.status == 401, (method, path, reply.status, reply.text[:200])
        _assert_problem(reply.header("Content-Type"), reply.body, 401)


async def test_the_document_is_valid_openapi_3_1_by_the_specification_schema(start_server: StartCobrowse) -> None:
    server = await start_server()
    doc = json.loads((await server.api("GET", DOC, key=None)).body)
    validate(doc)  # raises naming the first fault
    broken = copy.deepcopy(doc)
    del broken["paths"][DOC]["get"]["responses"]["200"]["description"]  # required of every response
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


async def test_aiohttp_refusals_under_api_are_problems_and_other_paths_are_left_alone(
        start_server: StartCobrowse) -> None:
    server = await start_server()
    for method, path, status in [("GET", "/api/v1/no-such-route", 404), ("PUT", "/api/v1/sessions", 405)]:
        reply = await server.api(method, path)
        assert reply.status == status, (path, reply.text)
        _assert_problem(reply.header("Content-Type"), reply.body, status)
    allowed = (await server.api("PUT", "/api/v1/sessions")).header("Allow") or ""
    assert "POST" in allowed.split(",") and "PUT" not in allowed
    page = await server.request("GET", f"{server.control}/no-such-page", cookies={})
    assert page.status == 404 and "problem" not in (page.header("Content-Type") or "")


async def test_the_problem_middleware_answers_a_body_too_large_and_a_crash_without_internals() -> None:
    """aiohttp's own 413 (a body over ``client_max_size``, read by the route) and an exception in
    a route, on a small app with the middleware, served on loopback."""

    async def reads(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="read")

    async def crashes(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = web.Application(middlewares=[api_problems], client_max_size=1024)
    app.router.add_post("/api/v1/read", reads)
    app.router.add_get("/api/v1/crash", crashes)
    app.router.add_get("/crash", crashes)
    served = await serve(app)
    try:
        async with aiohttp.ClientSession() as client:
            base = f"http://127.0.0.1:{served.port}"
            async with client.post(f"{base}/api/v1/read", data=b"x" * 4096) as resp:
                assert resp.status == 413
                _assert_problem(resp.headers.get("Content-Type"), await resp.read(), 413)
            async with client.get(f"{base}/api/v1/crash") as resp:
                body = await resp.read()
                assert resp.status == 500 and b"secret internals" not in body
                _assert_problem(resp.headers.get("Content-Type"), body, 500)
            async with client.get(f"{base}/crash") as resp:
                assert resp.status == 500 and "problem" not in resp.headers.get("Content-Type", "")
    finally:
        await served.close()


def _assert_problem(content_type: str | None, body: bytes, status: int) -> None:
    assert (content_type or "").startswith("application/problem+json"), content_type
    problem = json.loads(body)
    assert problem["status"] == status and problem["detail"] and problem["title"], problem


def test_two_fragments_naming_one_operation_fail_loudly_and_missing_modules_are_skipped() -> None:
    op = {"get": {"responses": {}}}
    with pytest.raises(ValueError, match="GET /a is described by both one and two"):
        merge_paths([("one", {"/a": op}), ("two", {"/a": op})])
    assert merge_paths([("one", {"/a": op}), ("two", {"/a": {"post": {}}})]) == {"/a": {"get": {"responses": {}},
                                                                                          "post": {}}}
    assert [name for name, _ in fragments(["proxy.no_such_module", "proxy.openapi"])] == ["proxy.openapi"]
    assert DOC in document(Config(api_key="k"), ["proxy.openapi"])["paths"]


# --- schemathesis against the live server -----------------------------------------------------------------


def _streams(definition: dict[str, Any]) -> bool:
    """An operation answering an endless stream (server-sent events) has no whole body to check:
    it is left to its own tests."""
    return any(STREAM_MEDIA in (response.get("content") or {}) for response in definition["responses"].values())


class LiveServer:
    """The cobrowse server in a thread of its own (schemathesis calls it synchronously)."""

    def __init__(self, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cobrowse-live", daemon=True)
        self.thread.start()
        self.server: Cobrowse = self._run(start_cobrowse(**config))

    def _run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(60)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self._run(stop_cobrowse(self.server))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    data: Path = tmp_path_factory.mktemp("live-data")
    token = create_key(data, "schemathesis")  # every scope
    # Limits high enough for a property run; their 429s are documented on every operation anyway.
    running = LiveServer(data_dir=str(data), api_rate=10_000.0, api_burst=10_000,
                         auth_failure_rate=10_000.0, auth_failure_burst=10_000)
    try:
        yield running, token
    finally:
        running.close()


def test_live_server_keeps_to_its_openapi_document(live: tuple[LiveServer, str]) -> None:
    """Each documented operation in turn, in both modes, with its share of ``EXAMPLES`` (schemathesis's
    pytest plugin does not run on our pytest, so its strategies are driven by Hypothesis here)."""
    server, token = live
    raw = requests.get(f"{server.base}{DOC}", timeout=10).json()
    operations = [result.ok() for result in schemathesis.openapi.from_dict(raw).get_all_operations()]
    assert len(operations) == len([m for item in raw["paths"].values() for m in item if m != "parameters"])
    operations = [op for op in operations if not _streams(op.definition.raw)]
    auth = {"Authorization": f"Bearer {token}"}
    failed: list[str] = []
    each = min(15, max(5, EXAMPLES // (2 * len(operations))))
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=each, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def keeps_to_it(case: Any) -> None:
            case.call_and_validate(base_url=server.base, headers=auth, checks=CHECKS, timeout=CALL_TIMEOUT)

        try:
            keeps_to_it()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing in the request can break the schema
        except Exception as exc:  # every operation is run; the failures are named together below
            failed.append(f"{operation.label} ({mode.value} examples): {exc}")
    assert not failed, "\n\n".join(failed)
