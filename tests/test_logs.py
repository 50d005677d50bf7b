"""Structured logs (``proxy.logs``): one JSON object per line with time, level, logger, message and
the session and participant ids the message names; never a cookie, token, API key or body. The
leak test drives a real session of the fixture world (a sign-in posted through the proxy, the
target's session cookie kept in the jar, sync sockets, the end) with JSON logs at debug level and
searches the whole output for every secret it saw, in every encoding ``world.leaks`` knows.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from test_upstream import StaleKeepAlive
from world.harness import API_KEY, Cobrowse, StartCobrowse
from world.leaks import leaks
from world.site_a import PASSWORD
from world.sync_client import expect, join, lead, scroll_relayed
from world.targets import World

from proxy import logs

SITE = "site-a.test"
# What a browser sends with a same-site page load (the jar judges SameSite from it).
NAVIGATE = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


def record(message: str, *args: Any, level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("cobrowse.sync", level, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_the_fields_and_lifts_the_messages_pairs() -> None:
    line = logs.JsonFormatter().format(record("sync.open session=%s participant=%s conn=%s", "s1", "p1", "c7"))
    got = json.loads(line)
    assert got["level"] == "info" and got["logger"] == "cobrowse.sync" and got["time"].endswith("+00:00")
    assert got["message"] == "sync.open session=s1 participant=p1 conn=c7"
    assert (got["event"], got["session"], got["participant"], got["conn"]) == ("sync.open", "s1", "p1", "c7")


def test_pairs_after_the_explanation_are_not_fields_and_extra_ids_are() -> None:
    got = json.loads(logs.JsonFormatter().format(record(
        "audit.overflow reason=%s: records were not kept (see x=y)", "queue full", session="s9")))
    assert got["reason"] == "queue" and "x" not in got and got["session"] == "s9"
    assert "\n" not in logs.JsonFormatter().format(record("a\nb"))


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        made = logging.LogRecord("cobrowse.http", logging.ERROR, __file__, 1, "http.handler_error status=%d",
                                 (500,), sys.exc_info())
    line = logs.JsonFormatter().format(made)
    assert line.count("\n") == 0 and "RuntimeError: boom" in json.loads(line)["exception"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configured_secrets_never_reach_a_line_whatever_the_format(fmt: str) -> None:
    stream = io.StringIO()
    handler = logs.handler(fmt, secrets=("api-key-0123456789", "short"), stream=stream)
    handler.emit(record("api.refused key=%s", "api-key-0123456789"))
    assert "api-key-0123456789" not in stream.getvalue() and logs.REDACTED in stream.getvalue()


def test_auto_is_json_off_a_terminal_and_text_on_one() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert logs.use_json("auto", io.StringIO()) and not logs.use_json("auto", Terminal())
    assert logs.use_json("json", Terminal()) and not logs.use_json("text", io.StringIO())


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log record of the process, at debug level, as JSON lines (no redaction configured:
    what is tested is that the code never logs a secret)."""
    stream = io.StringIO()
    handler = logs.handler("json", stream=stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_real_sessions_logs_carry_its_ids_and_none_of_its_secrets(
        world: World, cobrowse: Cobrowse, json_logs: io.StringIO) -> None:
    server = cobrowse
    created = await server.create_session(f"http://{SITE}/login")
    sid = created["id"]
    leader = await lead(server, created)
    follower = await join(server, created, "Vic")
    login = server.proxy_url(sid, SITE, "/login")
    posted = await server.request("POST", login, data={"user": "ann", "password": PASSWORD}, cookies=leader.cookies,
                                  headers=NAVIGATE)
    assert posted.status == 302, posted.text[:300]
    me = await server.request("GET", server.proxy_url(sid, SITE, "/me"), cookies=leader.cookies, headers=NAVIGATE)
    assert me.status == 200 and b"Signed in as" in me.body
    target_cookie = (await world.log.first(lambda h: h.path == "/me", "GET /me at the target")).header("Cookie")
    assert target_cookie and "sid=" in target_cookie

    lws, _ = await scroll_relayed(server, created, leader, follower)
    assert (await server.api("DELETE", f"/api/v1/sessions/{sid}")).status == 200
    await expect(lws, "ended")

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    by_event = {line.get("event"): line for line in lines}
    assert by_event["session.created"]["session"] == sid
    opened = [line for line in lines if line.get("event") == "sync.open"]
    assert {line["participant"] for line in opened} == {leader.id, follower.id}
    assert all(line["session"] == sid for line in opened)
    assert by_event["session.ended"]["session"] == sid

    secrets = {
        "API key": API_KEY,
        "leader ticket": parse_qs(urlsplit(created["leader_url"]).query)["ticket"][0],
        "invitation": parse_qs(urlsplit(created["follower_url"]).query)["invitation"][0],
        "target's session cookie": target_cookie.split("sid=", 1)[1].split(";", 1)[0],
        "password in the posted body": PASSWORD,
        **{f"leader cookie {k}": v for k, v in leader.cookies.items()},
        **{f"follower cookie {k}": v for k, v in follower.cookies.items()},
    }
    found = leaks(json_logs.getvalue().encode(), secrets)
    assert not found, f"the logs hold: {', '.join(found)}"


def test_a_handler_errors_log_line_names_the_session_its_proxy_host_carries() -> None:
    from aiohttp.test_utils import make_mocked_request

    from proxy import serving
    from proxy.app import build_app
    from proxy.config import Config

    app = build_app(Config(domain="cobrowse.localhost", api_key="k" * 16))
    on_proxy = make_mocked_request("GET", "/", headers={"Host": "h-site--abcdefghij-wxyz.cobrowse.localhost:8080"},
                                   app=app)
    on_control = make_mocked_request("GET", "/", headers={"Host": "cobrowse.localhost:8080"}, app=app)
    assert serving._session_of(on_proxy, app) == "abcdefghij"
    assert serving._session_of(on_control, app) == ""


async def test_a_line_logged_while_serving_a_proxied_request_carries_its_session_and_participant(
        start_server: StartCobrowse, json_logs: io.StringIO) -> None:
    """The upstream client's resend names only the host; the request's ids are bound to its task."""
    stale = await StaleKeepAlive().start()
    try:
        server = await start_server(resolve_overrides={"stale.test:80": ("127.0.0.1", stale.port)})
        created = await server.create_session("http://stale.test/one")
        leader = await lead(server, created)
        # The post goes out on the kept-alive connection the site drops, and is sent again (a GET
        # would be retried by the client library itself, silently).
        for method, path in (("GET", "/one"), ("POST", "/two")):
            reply = await server.request(method, server.proxy_url(created["id"], "stale.test", path),
                                         cookies=leader.cookies, data=b"x=1" if method == "POST" else None)
            assert reply.status == 200
    finally:
        await stale.close()
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    resent = [line for line in lines if line.get("event") == "upstream.resend"]
    assert resent, (stale.requests, [line["message"] for line in lines][-10:])
    assert all(line["session"] == created["id"] for line in resent)
    participant = next(line["participant"] for line in lines if line.get("event") == "upstream.resend")
    assert participant.startswith("p") and "session=" not in resent[0]["message"]


async def test_ids_bound_in_one_task_stay_out_of_another() -> None:
    stream = io.StringIO()
    handler = logs.handler("json", stream=stream)
    log = logging.getLogger("cobrowse.test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def serve_one(session: str) -> None:
        logs.bind(session=session, participant="p-" + session)
        await asyncio.sleep(0)
        log.info("work.done")

    try:
        await asyncio.gather(serve_one("s1"), serve_one("s2"))
        log.info("work.outside")
    finally:
        log.removeHandler(handler)
    got = {(line.get("session"), line.get("participant"), line["event"])
           for line in map(json.loads, stream.getvalue().splitlines())}
    assert got == {("s1", "p-s1", "work.done"), ("s2", "p-s2", "work.done"), (None, None, "work.outside")}
