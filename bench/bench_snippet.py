"""Watch link to co-browsing: from the agent's watch-URL request to both browsers showing the page.

Run from the repository root:
    .venv/bin/python bench/bench_snippet.py [--rounds 11] [--consent]

The integrator shop of the snippet tests (``tests/world/integrator_site.py``) and one cobrowse
server (``tests/world/harness.start_cobrowse``) run in this process, on loopback; one headless
Chromium (Debian's) reaches the shop directly and the proxy. A round: a fresh visitor (its own
browser context) signs in at the shop (an HttpOnly cookie), stores a cart in localStorage and
half fills the address form; its snippet has registered and its short id is read. Then the clock
starts: the agent's ``POST /api/v1/visitors/{short_id}/watch_url``, the agent's browser opens the
link (a fresh context), the visitor is asked (``--consent``: the dialog is shown and clicked by
Playwright as soon as it appears; default: the shop's tag says ``data-consent="off"``, so what is
timed is cobrowse alone), the visitor's page moves into the proxy with its state (the shop's
continuation endpoint hands the HttpOnly cookie over), and the agent's waiting page enters as
leader. Each side is done when its page shows the account page in the proxy with the signed-in
text, the cart read from storage and the form value, and its sync socket is connected; the
round's figure is the later of the two. Round 0 is a warm-up, reported on its own.
Times are wall-clock on a shared machine (the load average is printed): compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.async_api import Browser, Page, async_playwright  # noqa: E402
from world.apikeys import create_key  # noqa: E402
from world.browser import launch  # noqa: E402
from world.harness import Cobrowse, start_cobrowse, stop_cobrowse  # noqa: E402
from world.integrator_site import SHOP, USER, ShopSettings, shop  # noqa: E402
from world.targets import start_world  # noqa: E402

ACCOUNT = f"http://{SHOP}/account"
TIMEOUT_MS = 30_000
SHOWN = """(u) => window.__cbRuntime && window.__cbRuntime.realHref() === u
  && window.__cbSync && window.__cbSync.status().status === 'connected'
  && document.getElementById('who').textContent === 'Signed in as Vera'
  && document.getElementById('cart').textContent === '3 apples'
  && document.getElementById('street').value === 'Storgata 1'"""


async def visitor_ready(browser: Browser) -> tuple[Page, str]:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"http://{SHOP}/login")
    await page.fill("#user", USER)
    await page.fill("#password", "pw")
    await page.click("#go")
    await page.wait_for_url(ACCOUNT)
    await page.evaluate("() => localStorage.setItem('cart', '3 apples')")
    await page.fill("#street", "Storgata 1")
    await page.wait_for_function("() => typeof window.Cobrowse === 'function'")
    short_id: str = await page.evaluate("() => new Promise((done) => Cobrowse('getShortId', done))")
    return page, short_id


async def one_round(browser: Browser, server: Cobrowse, consent: bool) -> tuple[float, float, float]:
    """Seconds from the watch-URL request to: the visitor's page shown, the agent's, both."""
    visitor, short_id = await visitor_ready(browser)
    agent = await (await browser.new_context()).new_page()
    start = time.perf_counter()

    async def shown(page: Page) -> float:
        await page.wait_for_function(SHOWN, arg=ACCOUNT, timeout=TIMEOUT_MS, polling=5)
        return time.perf_counter() - start

    async def agent_side() -> float:
        made = await server.api("POST", f"/api/v1/visitors/{short_id}/watch_url", {"agent": {"name": "Ann"}})
        await agent.goto(json.loads(made.body)["watch_url"])
        return await shown(agent)

    async def visitor_side() -> float:
        if consent:
            allow = visitor.get_by_role("button", name="Allow")
            await allow.wait_for(timeout=TIMEOUT_MS)
            await allow.click()
        return await shown(visitor)

    seen_visitor, seen_agent = await asyncio.gather(visitor_side(), agent_side())
    await visitor.context.close()
    await agent.context.close()
    return seen_visitor, seen_agent, max(seen_visitor, seen_agent)


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    deciles = statistics.quantiles(ms, n=10) if len(ms) > 1 else [ms[0]] * 9
    return f"{statistics.median(ms):.0f} | {deciles[0]:.0f}..{deciles[-1]:.0f} | {ms[0]:.0f}..{ms[-1]:.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds after the warm-up")
    parser.add_argument("--consent", action="store_true", help="show the consent dialog and click Allow")
    args = parser.parse_args()
    settings = ShopSettings(consent=args.consent)
    world = await start_world({SHOP: shop(settings)})
    with tempfile.TemporaryDirectory() as data_dir:
        server = await start_cobrowse(resolve_overrides=world.resolve_overrides(), data_dir=data_dir)
        settings.control, settings.api_port = server.control, server.port
        settings.site_key = create_key(data_dir, "shop", "--site", "--origin", f"http://{SHOP}")
        settings.api_key = create_key(data_dir, "shop-server", "--scope", "visitors:watch")
        load_before = os.getloadavg()[0]
        async with async_playwright() as playwright:
            browser = await launch(playwright, (f"--host-resolver-rules={world.host_resolver_rules()}",))
            warm = await one_round(browser, server, args.consent)
            rounds = [await one_round(browser, server, args.consent) for _ in range(args.rounds)]
            await browser.close()
        await stop_cobrowse(server)
    await world.close()
    dialog = "shown, clicked at once" if args.consent else 'off (data-consent="off")'
    print(f"consent dialog: {dialog}; "
          f"rounds: {args.rounds} (+1 warm-up: visitor {warm[0] * 1000:.0f} ms, agent {warm[1] * 1000:.0f} ms); "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print("| shown in | median ms | p10..p90 ms | min..max ms |")
    print("| --- | --- | --- | --- |")
    for index, name in enumerate(("visitor's browser", "agent's browser", "both")):
        print(f"| {name} | {summary([r[index] for r in rounds])} |")


if __name__ == "__main__":
    asyncio.run(main())
