"""Two cobrowse processes on one Redis behind HAProxy (``tests/cluster.py``): co-browsing as on one.

Every request and sync socket of every participant goes through the balancer, which hands each to
the next process in turn (round-robin per request, no stickiness). The tests prove:
- the processes share sessions: what one creates the other describes, requests alternate;
- the fixture world's co-browsing flow (navigation, input, control hand-over, late join, end) in
  Chromium with leader and followers through the balancer behaves as on one process, each
  participant's requests were served by both processes (the balancer's log: the proxy host
  carries the participant's view), and the targets' hit counts equal those of the same flow run
  on one process (in-process, memory store) in the same module;
- a drifted follower is repaired from the shared response store, through the balancer.

The cluster starts once for the module (a few seconds); one Chromium serves every test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from cluster import Cluster, haproxy_missing, module_fixtures
from playwright.async_api import Browser
from world.harness import Cobrowse, start_cobrowse, stop_cobrowse, view_in
from world.hits import HitLog
from world.party import BrowserParty, bodies_equal, join, start_pair
from world.sync_client import lead
from world.sync_sites import SYNC_APPS

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(bool(haproxy_missing()), reason=haproxy_missing() or "-")]

A = "http://sync-a.test/"
FOLLOWER_WAIT = "1"  # seconds: a drifted follower's reload does not wait long for what never comes
HitKey = tuple[str, str, str]


browser_fixture, cluster_fixture = module_fixtures(SYNC_APPS, extra=("--follower-wait", FOLLOWER_WAIT))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def single(cluster: Cluster) -> AsyncIterator[Cobrowse]:
    """One process (in this one, on the memory store): the reference for target hit counts."""
    server = await start_cobrowse(resolve_overrides=cluster.world.resolve_overrides(),
                                  follower_wait=float(FOLLOWER_WAIT))
    try:
        yield server
    finally:
        await stop_cobrowse(server)


async def assert_same_document(a: BrowserParty, b: BrowserParty) -> None:
    left, right = await bodies_equal(a, b)
    assert left == right


async def test_processes_share_sessions_and_the_balancer_alternates_between_them(cluster: Cluster) -> None:
    created = await cluster.front.create_session(A)
    for _ in range(4):
        described = await cluster.front.api("GET", f"/api/v1/sessions/{created['id']}")
        assert described.status == 200, described.text[:300]
    leader = await lead(cluster.front, created)  # the leader link redeemed through the balancer
    assert leader.cookies
    described_by = await cluster.balancer.logged(lambda s: s.path == f"/api/v1/sessions/{created['id']}", 4)
    assert Counter(s.server for s in described_by) == Counter({"cobrowse1": 2, "cobrowse2": 2})


async def cobrowse_flow(browser: Browser, server: Cobrowse) -> dict[str, str]:
    """Navigation, input, a late joiner, control hand-over and the end; each participant's view."""
    created, leader, follower = await start_pair(browser, server, A)
    parties = [leader, follower]
    try:
        await leader.page.click("#to-two")
        await leader.wait_url(A + "two")
        await follower.wait_url(A + "two")
        await assert_same_document(leader, follower)
        await leader.page.go_back()
        await follower.wait_url(A)

        await leader.page.fill("#name", "Ann")
        await follower.wait_js("() => document.getElementById('name').value === 'Ann'")

        late = await join(browser, created, "Lou")
        parties.append(late)
        await late.wait_url(A)
        await late.wait_js("() => document.getElementById('name').value === 'Ann'")
        await assert_same_document(leader, late)

        await follower.toolbar("button[data-action=request]").click()
        await leader.toolbar(f"button[data-action=grant][data-to='{follower.id}']").click()
        await follower.wait_js("(id) => window.__cbSync.status().controller === id", arg=follower.id)
        await follower.page.click("#notes")
        await follower.page.keyboard.type("typed by Vic")
        for watcher in (leader, late):
            await watcher.wait_js("() => document.getElementById('notes').value === 'typed by Vic'")
        await leader.toolbar("button[data-action=take][data-asks]").click()
        await follower.toolbar(f"button[data-action=grant][data-to='{leader.id}']").click()
        await leader.wait_js("(id) => window.__cbSync.status().controller === id", arg=leader.id)

        await leader.toolbar("button[data-action=end]").click()
        for party in parties:
            await party.wait_js("() => window.__cbSync.status().status === 'ended'")
        return {name: view_in(party.page.url) for name, party in zip(("leader", "follower", "late"), parties,
                                                                      strict=True)}
    finally:
        for party in parties:
            await party.context.close()


def hit_counts(log: HitLog) -> Counter[HitKey]:
    return Counter((h.server, h.method, h.path) for h in log if h.path != "/favicon.ico")


async def test_cobrowsing_through_the_balancer_is_served_by_both_processes_with_one_process_hits(
        browser: Browser, cluster: Cluster, single: Cobrowse) -> None:
    log = cluster.world.log
    log.clear()
    await cobrowse_flow(browser, single)
    on_one = hit_counts(log)

    log.clear()
    views = await cobrowse_flow(browser, cluster.front)
    assert hit_counts(log) == on_one

    for name, view in views.items():
        per_process = cluster.balancer.per_server(view)
        assert set(per_process) == {"cobrowse1", "cobrowse2"}, f"{name}'s requests went to {dict(per_process)}"


async def test_drifted_follower_is_repaired_from_the_shared_store_through_the_balancer(
        browser: Browser, cluster: Cluster) -> None:
    log = cluster.world.log
    log.clear()
    _, leader, follower = await start_pair(browser, cluster.front, A + "two")
    try:
        await follower.page.evaluate("() => { document.getElementById('title').textContent = 'tampered'; }")
        await follower.page.wait_for_event("load", timeout=30_000)
        await follower.wait_url(A + "two")
        await assert_same_document(leader, follower)
        assert [h.path for h in log if h.path != "/favicon.ico"] == ["/two"]
    finally:
        for party in (leader, follower):
            await party.context.close()
