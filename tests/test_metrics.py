"""``GET /metrics`` counts what happened: a real session of the fixture world is driven (a driver's
pages upstream, a follower's copy from the store, a target's 404, a target that cannot be reached,
sync messages, the end), and every counter is read before and after with the Prometheus client's
own parser; each must have moved by exactly what was done.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from world.harness import API_KEY, DOMAIN, Cobrowse, StartCobrowse, free_port
from world.sync_client import join, lead, scroll_relayed
from world.targets import World, listen, serve

from proxy.app import build_app
from proxy.config import Config
from proxy.metrics import Metrics
from proxy.serving import make_runner
from sessions.audit_record import Exchange

Sample = tuple[str, frozenset[tuple[str, str]]]
SITE = "site-a.test"
DOWN = "down.test"  # resolves to a loopback port nothing listens on


@pytest.fixture
async def server(world: World, start_server: StartCobrowse) -> Cobrowse:
    return await start_server(resolve_overrides={**world.resolve_overrides(), f"{DOWN}:80": ("127.0.0.1", free_port())})


async def scrape(server: Cobrowse) -> dict[Sample, float]:
    reply = await server.request("GET", f"{server.control}/metrics", cookies={})
    assert reply.status == 200, reply.text[:300]
    assert (reply.header("Content-Type") or "").startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def moved(before: dict[Sample, float], after: dict[Sample, float], name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def moved_total(before: dict[Sample, float], after: dict[Sample, float], name: str) -> float:
    """Summed over every label set."""
    return sum(v for (n, _), v in after.items() if n == name) - sum(v for (n, _), v in before.items() if n == name)


async def test_metrics_parse_and_count_a_cobrowsed_session_exactly(server: Cobrowse) -> None:
    before = await scrape(server)

    created = await server.create_session(f"http://{SITE}/cookies")
    sid = created["id"]
    leader = await lead(server, created)
    follower = await join(server, created, "Vic")

    page = server.proxy_url(sid, SITE, "/cookies")
    assert (await server.request("GET", page, cookies=leader.cookies)).status == 200  # upstream, 2xx
    assert (await server.request("GET", page, cookies=follower.cookies)).status == 200  # from the store
    missing = server.proxy_url(sid, SITE, "/no-such-page")
    assert (await server.request("GET", missing, cookies=leader.cookies)).status == 404  # upstream, 4xx
    nowhere = server.proxy_url(sid, DOWN, "/")
    assert (await server.request("GET", nowhere, cookies=leader.cookies)).status >= 500  # no answer

    # Sync: three messages in (two hellos, one scroll), relayed to the follower.
    lws, fws = await scroll_relayed(server, created, leader, follower)
    during = await scrape(server)
    assert moved(before, during, "cobrowse_sync_sockets") == 2
    assert moved(before, during, "cobrowse_sessions_live") == 1

    ended = await server.api("DELETE", f"/api/v1/sessions/{sid}")
    assert ended.status == 200, ended.text[:300]
    await lws.close()
    await fws.close()
    after = await scrape(server)

    assert moved(before, after, "cobrowse_exchanges_total", path="upstream") == 3
    assert moved(before, after, "cobrowse_exchanges_total", path="store") == 1
    assert moved(before, after, "cobrowse_upstream_requests_total", method="GET", status_class="2xx") == 1
    assert moved(before, after, "cobrowse_upstream_requests_total", method="GET", status_class="4xx") == 1
    assert moved(before, after, "cobrowse_upstream_requests_total", method="GET", status_class="none") == 1
    assert moved(before, after, "cobrowse_upstream_response_seconds_count") == 2  # answers that came
    assert moved_total(before, after, "cobrowse_errors_total") == 1
    assert moved(before, after, "cobrowse_sessions_created_total") == 1
    assert moved(before, after, "cobrowse_sessions_ended_total") == 1
    assert moved(before, after, "cobrowse_sessions_live") == 0
    assert moved(before, after, "cobrowse_session_events_total", event="created") == 1
    assert moved(before, after, "cobrowse_session_events_total", event="ended") == 1
    assert moved(before, after, "cobrowse_participants_joined_total", role="leader") == 1
    assert moved(before, after, "cobrowse_participants_joined_total", role="follower") == 1
    assert moved(before, after, "cobrowse_relay_messages_total", direction="in") == 3
    assert moved(before, after, "cobrowse_relay_messages_total", direction="out") >= 1  # at least the scroll
    # Served from the store: one of the four answers that reached a participant from a target.
    store = moved(before, after, "cobrowse_exchanges_total", path="store")
    assert store / (store + moved(before, after, "cobrowse_exchanges_total", path="upstream")) == 0.25


async def test_metrics_are_on_the_control_plane_only(cobrowse: Cobrowse) -> None:
    created = await cobrowse.create_session(f"http://{SITE}/cookies")
    leader = await lead(cobrowse, created)
    on_proxy = cobrowse.proxy_url(created["id"], SITE, "/metrics")
    before = await scrape(cobrowse)
    reply = await cobrowse.request("GET", on_proxy, cookies=leader.cookies)
    after = await scrape(cobrowse)
    # The session's host went to the target (a 404 there), not to cobrowse's metrics.
    assert reply.status == 404 and b"cobrowse_" not in reply.body
    assert moved(before, after, "cobrowse_upstream_requests_total", method="GET", status_class="4xx") == 1


def test_each_metrics_object_has_its_own_registry_and_folds_labels() -> None:
    one, two = Metrics(), Metrics()  # the global registry would refuse the second set of names
    record: Any = Exchange(time=0.0, participant="p", path="upstream", method="BREW", url="http://x/",
                           status=502, error="Upstream refused: 10.0.0.1 is private!")
    one.exchange(record)
    text = one.text().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {s.labels["method"] for s in families["cobrowse_upstream_requests"].samples
            if s.name.endswith("_total")} == {"other"}
    assert {s.labels["kind"] for s in families["cobrowse_errors"].samples
            if s.name.endswith("_total")} == {"upstream_refused_10_0_0_1_is_private"}
    assert "cobrowse_errors_total{" not in two.text().decode()


async def test_an_error_of_cobrowse_itself_is_a_500_counted_as_handler_error() -> None:
    """A handler that raises (here a route added for the test: the real ones have no known bug)."""
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    sock = listen()
    port = int(sock.getsockname()[1])
    app = build_app(Config(host="127.0.0.1", port=port, domain=DOMAIN, api_key=API_KEY))
    app.router.add_get("/broken-for-test", broken)
    served = await serve(make_runner(app, access_log=None), sock=sock)
    try:
        async with aiohttp.ClientSession() as client:
            control = {"Host": f"{DOMAIN}:{port}"}
            async with client.get(f"http://127.0.0.1:{port}/broken-for-test", headers=control) as r:
                assert r.status == 500 and "a bug" not in await r.text()
            async with client.get(f"http://127.0.0.1:{port}/metrics", headers=control) as r:
                text = await r.text()
    finally:
        await served.close()
    samples = {(s.name, s.labels.get("kind")): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("cobrowse_errors_total", "handler_error")] == 1
