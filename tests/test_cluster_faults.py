"""Faults in a cluster of two processes on one Redis behind HAProxy (``tests/cluster.py``).

- A process killed with SIGKILL mid-session: both participants' pages are back (connected, through
  the balancer to the other process) within 10 s, the follower shows what the leader did while
  it was away, and every relayed key press exactly once (the page counts them: nothing lost,
  nothing applied twice).
- Redis stopped: creating a session (problem+json) and a participant's page (a page) are answered
  503 within 1 s (each request's own deadline), naming the cause; ``/readyz`` says not ready;
  the pages show their reconnecting state. Redis started again (same port, its append-only file
  kept): the same pages reconnect by themselves, co-browsing resumes and new sessions are created,
  with no process restarted.
- Each process restarted in turn on the same Redis (a rolling restart): nothing is lost; the
  session, its participants, control and the pages' state carry on.

The cluster starts once for the module; every test leaves it whole (all processes serving,
Redis up) for the next.
"""

from __future__ import annotations

import json

import pytest
from cluster import Cluster, Node, haproxy_missing, module_fixtures
from playwright.async_api import Browser
from playwright.async_api import TimeoutError as PlaywrightTimeout
from world.party import BrowserParty, bodies_equal, join, start_pair
from world.sync_sites import SYNC_APPS

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(bool(haproxy_missing()), reason=haproxy_missing() or "-")]

A = "http://sync-a.test/"
BACK_WITHIN_MS = 10_000  # issue 10: participants are back within 10 s of a process dying
STORE_503_WITHIN = 1.0  # seconds: a new session meets a down store with a 503 this fast
NEW_SESSION = {"url": A, "agent": {"id": "a1", "name": "Ann"}}


browser_fixture, cluster_fixture = module_fixtures(SYNC_APPS)


async def connected(party: BrowserParty, within_ms: int = BACK_WITHIN_MS) -> None:
    await party.page.wait_for_function("() => window.__cbSync.status().status === 'connected'", timeout=within_ms)


async def shows(party: BrowserParty, field: str, text: str, within_ms: int = BACK_WITHIN_MS) -> None:
    """Wait until element ``field``'s text (an input's value) is ``text``; say what it shows if not."""
    read = "(f) => { const el = document.getElementById(f); return 'value' in el ? el.value : el.textContent; }"
    try:
        await party.page.wait_for_function(f"([f, t]) => ({read})(f) === t", arg=[field, text], timeout=within_ms)
    except PlaywrightTimeout:
        now = await party.page.evaluate(read, field)
        status = await party.status()
        raise AssertionError(f"#{field} shows {now!r}, not {text!r} (sync status: {status})") from None


async def keys_shown(party: BrowserParty, text: str) -> None:
    await shows(party, "keys", text)


async def press_k(leader: BrowserParty) -> None:
    await leader.page.click("#title")
    await leader.page.keyboard.press("k")


async def test_sigkill_of_a_process_mid_session_loses_and_doubles_nothing(
        browser: Browser, cluster: Cluster) -> None:
    _, leader, follower = await start_pair(browser, cluster.front, A)
    try:
        await press_k(leader)
        await keys_shown(follower, "keys: k")

        # The process that holds the follower's sync socket dies.
        victim = next(n for n in cluster.nodes if any(e.get("participant") == follower.id
                                                      for e in n.events("sync.open")))
        await victim.kill()
        # Whatever either page had on the dead process is gone; the balancer sends the rest to the other.
        await leader.page.keyboard.press("k")
        await leader.page.keyboard.press("k")
        for party in (leader, follower):
            await connected(party)
        await keys_shown(follower, "keys: k k k")
        # One more after everything settled: had an earlier press been applied twice, this would show it.
        await leader.page.keyboard.press("k")
        await keys_shown(follower, "keys: k k k k")
        await leader.page.fill("#name", "typed after the crash")
        await shows(follower, "name", "typed after the crash")
        left, right = await bodies_equal(leader, follower)
        assert left == right
    finally:
        for party in (leader, follower):
            await party.context.close()
        for node in cluster.nodes:
            if node.proc is None or node.proc.returncode is not None:
                await node.start(cluster.client)
        await cluster.front_reaches_every_node()


async def test_redis_down_answers_503_at_once_and_everything_recovers_when_it_returns(
        browser: Browser, cluster: Cluster) -> None:
    _, leader, follower = await start_pair(browser, cluster.front, A)
    leader_cookies = {c["name"]: c["value"] for c in await leader.context.cookies()}
    try:
        await cluster.redis.stop()
        try:
            refused = await cluster.front.request("POST", f"{cluster.front.control}/api/v1/sessions",
                                                  headers={"Authorization": "Bearer test-key"}, json=NEW_SESSION,
                                                  cookies={}, deadline=STORE_503_WITHIN)
            assert refused.status == 503, refused.text[:300]
            assert (refused.header("Content-Type") or "").startswith("application/problem+json")
            assert refused.header("Retry-After")
            assert "session store cannot be reached" in json.loads(refused.body)["detail"]
            page = await cluster.front.request("GET", leader.page.url, cookies=leader_cookies,
                                               deadline=STORE_503_WITHIN)  # the leader's page, loaded again
            assert page.status == 503 and (page.header("Content-Type") or "").startswith("text/html")
            assert "session store cannot be reached" in page.text
            ready = await cluster.front.request("GET", f"{cluster.front.control}/readyz", cookies={})
            assert ready.status == 503 and "store" in " ".join(json.loads(ready.body)["reasons"])
            for party in (leader, follower):
                await party.wait_js("() => window.__cbSync.status().status === 'reconnecting'")
        finally:
            await cluster.redis.start()

        for party in (leader, follower):
            await connected(party)
        await leader.page.fill("#name", "after Redis came back")
        await follower.wait_js("() => document.getElementById('name').value === 'after Redis came back'")
        created = await cluster.front.create_session(A)
        assert created["id"]
    finally:
        for party in (leader, follower):
            await party.context.close()


async def restart(cluster: Cluster, node: Node) -> None:
    """SIGTERM ``node``, start it again on the same port and Redis, and wait until the balancer uses it."""
    await node.stop()
    await node.start(cluster.client)
    await cluster.front_reaches_every_node()


async def test_each_process_restarted_in_turn_on_the_same_redis_loses_nothing(
        browser: Browser, cluster: Cluster) -> None:
    created, leader, follower = await start_pair(browser, cluster.front, A)
    parties = [leader, follower]
    try:
        await leader.page.fill("#name", "before the restarts")
        await shows(follower, "name", "before the restarts")

        await restart(cluster, cluster.nodes[0])
        described = await cluster.front.api("GET", f"/api/v1/sessions/{created['id']}")
        assert described.status == 200 and json.loads(described.body)["status"] == "live"
        late = await join(browser, created, "Lou")  # catches up from the state the first process wrote
        parties.append(late)
        await shows(late, "name", "before the restarts")
        await follower.toolbar("button[data-action=request]").click()
        await leader.toolbar(f"button[data-action=grant][data-to='{follower.id}']").click()
        await follower.wait_js("(id) => window.__cbSync.status().controller === id", arg=follower.id)

        await restart(cluster, cluster.nodes[1])
        for party in parties:
            await connected(party)
            await party.wait_js("(id) => window.__cbSync.status().controller === id", arg=follower.id)
        await follower.page.fill("#notes", "the visitor still drives")
        for watcher in (leader, late):
            await shows(watcher, "notes", "the visitor still drives")
    finally:
        for party in parties:
            await party.context.close()
