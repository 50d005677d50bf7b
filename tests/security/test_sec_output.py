"""Threat-model rows "secrets in output" (hole 9) and "bad request lines" (hole 10).

Credentials (the API key, tickets, invitations, participant cookies) must never appear in the
start-up banner, a log line or an error body. The server here runs exactly as ``cobrowse
serve`` runs it (``proxy.serving.make_runner``), with every logger captured at DEBUG.

Before the fix: the banner printed a supplied key; aiohttp's own 400 page quoted the offending
request line (a ``Cookie`` line included) and logged the parser's exception with the line in it;
an absolute-form request line for a session host raised inside the handler (500).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from world import World
from world.harness import AGENT, DOMAIN, Cobrowse, cookies_from, start_cobrowse, stop_cobrowse
from world.sync_client import ScriptedParty as Party
from world.sync_client import hello
from world.targets import free_port

from proxy.cli import banner, config_from, parse_args, serve
from proxy.config import Config

SECRET_KEY = b"sec-output-signing-key-0123456789abcdef"
API_KEY = "sec-output-api-key-8c2f0e1d9b7a"


@pytest.fixture
async def served(world: World) -> AsyncIterator[Cobrowse]:
    """The server as the CLI runs it (quiet runner, no access log), reaching the fixture world."""
    server = await start_cobrowse(api_key=API_KEY, secret_key=SECRET_KEY, resolve_overrides=world.resolve_overrides())
    try:
        yield server
    finally:
        await stop_cobrowse(server)


async def create(server: Cobrowse, url: str) -> dict[str, Any]:
    reply = await server.api("POST", "/api/v1/sessions", {"url": url, "agent": AGENT}, key=API_KEY)
    assert reply.status == 201, reply.text
    created: dict[str, Any] = json.loads(reply.body)
    return created


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send bytes as they are (no client would send these) and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


# -- the banner ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["environment", "flag"])
def test_banner_never_prints_a_key_the_operator_supplied(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "operator-chosen-key-5f1e0c"
    monkeypatch.setenv("COBROWSE_API_KEY", key if source == "environment" else "")
    argv = ["serve", "--api-key", key] if source == "flag" else ["serve"]
    config = config_from(parse_args(argv))
    assert config.api_key == key and not config.api_key_generated
    text = banner(config, "")
    assert key not in text
    assert "not printed" in text and "/api/v1/sessions" in text


def test_banner_prints_a_generated_key_and_says_it_is_shown_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COBROWSE_API_KEY", raising=False)
    config = config_from(parse_args(["serve"]))
    assert config.api_key_generated and len(config.api_key) >= 32
    text = banner(config, "")
    assert f"API key:  {config.api_key}" in text and "shown only here" in text


async def test_cobrowse_serve_prints_no_supplied_key_and_answers_bad_requests_quietly(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The real entry point: its banner, and its runner (the one that echoes nothing)."""
    port = free_port()
    config = Config(host="127.0.0.1", port=port, domain=DOMAIN, api_key=API_KEY)
    task = asyncio.ensure_future(serve(config, demo=False))
    try:
        for _ in range(200):  # the positive event: the banner is printed once the port listens
            if "cobrowse listening" in capsys.readouterr().out or task.done():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("cobrowse serve printed no banner")
        answer = await raw_exchange(port, f"GET / HTTP/1.1\r\nHost: x\r\nBad Cookie: {API_KEY}\r\n\r\n".encode())
        assert answer.split(b" ")[1] == b"400" and b"could not be read as HTTP" in answer
        assert API_KEY.encode() not in answer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert API_KEY not in capsys.readouterr().out


# -- bad requests ----------------------------------------------------------------------------

SECRET_COOKIE = "cbp_abcdefghij=v1.SECRET-COOKIE-VALUE-7d1c"
# Requests aiohttp's parser refuses, each with the secret in the line it used to quote back.
MALFORMED = {
    "control character in the Cookie line": f"GET / HTTP/1.1\r\nHost: x\r\nCookie: {SECRET_COOKIE}\x01\r\n\r\n",
    "space in a header name": f"GET / HTTP/1.1\r\nHost: x\r\nBad Cookie: {SECRET_COOKIE}\r\n\r\n",
    "control character in the target": f"GET /?{SECRET_COOKIE}\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
    "header line too long": f"GET / HTTP/1.1\r\nHost: x\r\nCookie: {SECRET_COOKIE}{'x' * 9000}\r\n\r\n",
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_a_malformed_request_gets_a_generic_400_that_echoes_and_logs_nothing(
        name: str, served: Cobrowse, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await raw_exchange(served.port, MALFORMED[name].encode("latin-1"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", answer[:200]
    assert b"could not be read as HTTP" in body
    assert b"SECRET" not in answer and b"Cookie" not in body
    assert any(r.name == "cobrowse.http" and "http.bad_request status=400" in r.getMessage()
               for r in caplog.records)
    assert "SECRET" not in caplog.text


async def test_an_absolute_form_request_line_is_a_clear_400_on_every_host(served: Cobrowse) -> None:
    created = await create(served, "http://site-a.test/")
    leader = cookies_from((await served.request("GET", created["leader_url"], cookies={})).headers)
    cookie = "; ".join(f"{k}={v}" for k, v in leader.items())
    proxy_host = urlsplit(served.proxy_url(created["id"], "site-a.test")).netloc
    for host in (proxy_host, f"{DOMAIN}:{served.port}"):
        request = f"GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        answer = await raw_exchange(served.port, request.encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == b"400", answer[:300]
        assert b"not a forward proxy" in body
        assert next(iter(leader.values())).encode() not in answer
    # The same request in origin form is served: only the form of the line was refused.
    ok = await served.request("GET", served.proxy_url(created["id"], "site-a.test"), cookies=leader)
    assert ok.status == 200


# -- a whole session, every credential watched -----------------------------------------------


async def test_no_credential_reaches_a_log_line_or_an_error_body_in_a_realistic_session(
        served: Cobrowse, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = {API_KEY}
    error_bodies: list[str] = []

    async def call(method: str, url: str, **kw: object) -> object:
        reply = await served.request(method, url, **kw)  # type: ignore[arg-type]
        if reply.status >= 400:
            error_bodies.append(f"{method} {urlsplit(url).path} -> {reply.status}\n{reply.text}")
        return reply

    created = await create(served, "http://site-a.test/")
    sid = created["id"]
    ticket = parse_qs(urlsplit(created["leader_url"]).query)["ticket"][0]
    invitation = parse_qs(urlsplit(created["follower_url"]).query)["invitation"][0]
    secrets |= {ticket, invitation}
    # Wrong key, then the leader redeems its ticket, then replays it.
    await call("GET", f"{served.control}/api/v1/sessions/{sid}", headers={"Authorization": "Bearer wrong"},
               cookies={})
    entered = await served.request("GET", created["leader_url"], cookies={})
    leader = Party(cookies_from(entered.headers))
    await call("GET", created["leader_url"], cookies={})
    # The follower: join page, join form, and a forged invitation.
    await call("GET", created["follower_url"], cookies={})
    joined = await served.request("POST", f"{served.control}/join/{sid}",
                                  data={"invitation": invitation, "name": "Vic"}, cookies={})
    follower = Party(cookies_from(joined.headers))
    await call("POST", f"{served.control}/join/{sid}", data={"invitation": invitation + "x", "name": "Eve"},
               cookies={})
    secrets |= set(leader.cookies.values()) | set(follower.cookies.values())
    # A fresh leader link (a new ticket) through the API.
    link = await served.api("POST", f"/api/v1/sessions/{sid}/leader-link", key=API_KEY)
    secrets.add(parse_qs(urlsplit(json.loads(link.body)["leader_url"]).query)["ticket"][0])
    # Proxied requests: the driver's page, the follower's copy, a page with a forged cookie.
    page = served.proxy_url(sid, "site-a.test")
    assert (await call("GET", page, cookies=leader.cookies)).status == 200  # type: ignore[attr-defined]
    assert (await call("GET", page, cookies=follower.cookies)).status == 200  # type: ignore[attr-defined]
    forged = {name: value[:-4] + "AAAA" for name, value in leader.cookies.items()}
    await call("GET", page, cookies=forged)
    await call("GET", served.proxy_url(sid, "site-a.test", "/no-such-page"), cookies=leader.cookies)
    # The sync socket, opened and used.
    host = urlsplit(page).netloc
    ws = await served.client.ws_connect(
        f"http://127.0.0.1:{served.port}/__cb/sync",
        headers={"Host": host, "Origin": f"http://{host}",
                 "Cookie": "; ".join(f"{k}={v}" for k, v in leader.cookies.items())})
    await hello(ws, leader, "p1", url="http://site-a.test/")
    await ws.close()
    # Malformed and absolute-form requests carrying the real participant cookie.
    cookie = "; ".join(f"{k}={v}" for k, v in leader.cookies.items())
    for raw in (f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\x01\r\n\r\n",
                f"GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"):
        error_bodies.append((await raw_exchange(served.port, raw.encode())).decode("latin-1"))
    # The end, and the ended session's hosts.
    assert (await served.api("DELETE", f"/api/v1/sessions/{sid}", key=API_KEY)).status == 200
    await call("GET", page, cookies=leader.cookies)
    await call("GET", created["leader_url"], cookies={})
    await call("GET", created["follower_url"], cookies={})

    assert len(error_bodies) >= 10
    watched = secrets | {unquote(s) for s in secrets}
    assert all(len(s) >= 16 for s in watched), "a credential too short to look for"
    for secret in watched:
        assert secret not in caplog.text, f"a credential is in the logs: {secret[:6]}..."
        for body in error_bodies:
            assert secret not in body, f"a credential is in an error body: {body[:200]}"
    assert "session.created" in caplog.text and "session.ended" in caplog.text  # the logs were captured
