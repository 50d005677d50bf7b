"""One scenario, three ways: directly, through the proxy alone, and co-browsed by a leader and a follower.

A ``Feature`` is a short visit to one app: open ``start``, then do each ``Step``'s act. After
each step the page must show the step's ``path`` (the path of the last document response, so an
error page still has one) and pass its ``ready`` check; ``observe`` then reads the step's
outcome as text. The direct run is the reference (and must show each step's ``expect``);
through the proxy, and as the co-browsing leader, the outcomes must be the same. Co-browsed,
after every step the follower shows the same path and the same visible text as the leader, and
the app's hits (counted at the front in front of it) equal those of the proxy-alone run.
Through the proxy no participant may request anything outside the proxy space. A feature may
``prepare`` the app before each run (put back a file the previous run saved), and an app that
signs in on another app (``also``: a second origin) has its hits counted with it.

Each direct and proxy-alone run also records the Chromium load event of its first page (from
fetch start, so redirects before it are left out); when a module is done, if it made fewer
than ``LOAD_ROUNDS`` of them each way, visits of its first feature's first page alone add the
rest (timing is taken in the suite's own runs, never asserted).
``Modes.load_times`` gives both lists, from which the suite's report shows a page-load ratio (a
figure, never asserted).

``Modes`` holds what a module shares (the app, two Chromiums, one cobrowse server) and keeps
each feature's direct outcome and proxy-alone run, so a mode's test reuses a run another test
already made instead of repeating it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from compat_apps import RunningApp
from playwright.async_api import Browser, BrowserContext, Download, HttpCredentials, Page, Response, async_playwright
from playwright.async_api import Error as PlaywrightError
from world.browser import CHROMIUM, RequestRecorder, launch
from world.harness import DOMAIN, Cobrowse, start_cobrowse, stop_cobrowse

MODES = ("direct", "proxy", "cobrowse")
SETTLE_SECONDS = 15.0
LOAD_ROUNDS = 3

Act = Callable[[Page], Awaitable[None]]
Observe = Callable[[Page, "Tracker"], Awaitable[str]]
HitKey = tuple[str, str, str, str]  # host, method, path, query
Prepare = Callable[[RunningApp], Awaitable[None]]

# Visible text of the body, without scripts, styles or the co-browsing toolbar.
VISIBLE_TEXT = """() => {
  if (!document.body) return '';
  const out = [];
  const skip = new Set(['script', 'style', 'noscript', 'template', 'cobrowse-ui']);
  const walk = (node) => {
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) { const t = c.data.replace(/\\s+/g, ' ').trim(); if (t) out.push(t); }
      else if (c.nodeType === 1 && !skip.has(c.localName)) walk(c);
    }
  };
  walk(document.body);
  return out.join('\\n');
}"""


@dataclass(slots=True)
class Tracker:
    """The main frame's last document response (status and URL), and any download it started."""

    status: int | None = None
    url: str = ""
    download: str = ""

    def attach(self, page: Page) -> None:
        def on_response(response: Response) -> None:
            if response.request.is_navigation_request() and response.frame == page.main_frame:
                self.status, self.url = response.status, response.url

        def on_download(download: Download) -> None:
            self.download = download.suggested_filename or "(unnamed)"

        page.on("response", on_response)
        page.on("download", on_download)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


# A proxy host names the participant's view (docs/participant-hosts.md): where a page shows one
# (Chromium's own error page shows the host), participants differ by it and nothing else.
_VIEW_IN_HOST = re.compile(r"(--[a-z2-7]{10})-[a-z0-9]{4}\.")


async def visible_text(page: Page, tracker: Tracker) -> str:
    if tracker.download:
        return f"download started: {tracker.download}"
    text: str = await page.evaluate(VISIBLE_TEXT)
    return _VIEW_IN_HOST.sub(r"\1.", text)


async def status_and_text(page: Page, tracker: Tracker) -> str:
    # Chromium's own error page (an empty error response) names the host it was asked for, which
    # is the proxy's through the proxy: that it is shown is the outcome, not its words.
    shown = "(the browser's error page)" if page.url.startswith("chrome-error:") else await visible_text(page, tracker)
    return f"HTTP {tracker.status}\n{shown}"


def json_fields(*names: str) -> Observe:
    """The named top-level fields of a JSON document, as canonical JSON (the rest varies by client)."""

    async def observe(page: Page, tracker: Tracker) -> str:
        text = await visible_text(page, tracker)
        try:
            data = json.loads(text)
        except ValueError:
            return f"not JSON: {text[:300]}"
        return json.dumps({n: data.get(n) for n in names}, sort_keys=True)

    return observe


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    path: str
    expect: str  # the direct run's observation must contain this
    act: Act | None = None  # None for the first step (opening the start URL)
    ready: str = "() => true"
    observe: Observe = visible_text
    settle_seconds: float = SETTLE_SECONDS  # longer for a step that waits on a slow server (a kernel start)


@dataclass(frozen=True, slots=True)
class Feature:
    app: str
    name: str
    start: str  # the path the visit (and the session) starts at
    steps: tuple[Step, ...]
    credentials: tuple[str, str] | None = None
    reaches: tuple[str, ...] = ()  # paths the app must receive through the proxy (e.g. a worker's fetches)
    prepare: Prepare | None = None  # puts the app back as the run expects it (not counted as hits)

    @property
    def id(self) -> str:
        return f"{self.app}-{self.name.replace(' ', '-')}"


@dataclass(frozen=True, slots=True)
class Seen:
    """What one participant showed after one step (``settled``: it reached the step's path and ready)."""

    step: str
    path: str
    observed: str
    settled: bool

    def __str__(self) -> str:
        return f"{self.path} ({'ready' if self.settled else 'never ready'}) {self.observed[:400]!r}"


@dataclass(slots=True)
class Run:
    seen: list[Seen] = field(default_factory=list)
    hits: Counter[HitKey] = field(default_factory=Counter)
    outside: list[str] = field(default_factory=list)
    out_of_step: list[str] = field(default_factory=list)
    load_ms: float | None = None  # the first page's load event, from fetch start


@dataclass(slots=True)
class Party:
    context: BrowserContext
    page: Page
    tracker: Tracker


async def _open(browser: Browser, feature: Feature | None, recorder: RequestRecorder | None) -> Party:
    credentials: HttpCredentials | None = None
    if feature is not None and feature.credentials is not None:
        credentials = {"username": feature.credentials[0], "password": feature.credentials[1]}
    context = await browser.new_context(http_credentials=credentials)
    if recorder is not None:
        recorder.attach(context)
    page = await context.new_page()
    tracker = Tracker()
    tracker.attach(page)
    return Party(context, page, tracker)


async def _goto(party: Party, url: str) -> None:
    # A download or an error page is an outcome to compare, not a reason to stop.
    with contextlib.suppress(PlaywrightError):
        await party.page.goto(url)


def _deadline(step: Step) -> float:
    return asyncio.get_running_loop().time() + step.settle_seconds


async def _settle(party: Party, step: Step, deadline: float) -> bool:
    loop = asyncio.get_running_loop()
    while True:
        if _path(party) == step.path:
            if party.tracker.download:
                return True
            with contextlib.suppress(PlaywrightError):
                await party.page.wait_for_load_state("load", timeout=2_000)
                if await party.page.evaluate(step.ready):
                    return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.1)


def _path(party: Party) -> str:
    """The path the page shows (pushState included); on the browser's error page, the failed document's."""
    url = party.page.url
    return party.tracker.path if url.startswith("chrome-error:") or not party.tracker.url else urlsplit(url).path


async def _see(party: Party, step: Step, deadline: float | None = None) -> Seen:
    settled = await _settle(party, step, _deadline(step) if deadline is None else deadline)
    try:
        observed = await step.observe(party.page, party.tracker)
    except PlaywrightError as exc:
        observed = f"unreadable: {exc.message.splitlines()[0]}"
    return Seen(step.name, _path(party), observed, settled)


async def _act(party: Party, step: Step) -> None:
    assert step.act is not None, f"step {step.name!r} does nothing"
    with contextlib.suppress(PlaywrightError):
        await step.act(party.page)


async def _idle(parties: list[Party]) -> None:
    for party in parties:
        with contextlib.suppress(PlaywrightError):
            await party.page.wait_for_load_state("networkidle", timeout=5_000)


LOAD_MS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return nav && nav.loadEventEnd > 0 ? nav.loadEventEnd - nav.fetchStart : null;
}"""


async def _load_ms(party: Party) -> float | None:
    with contextlib.suppress(PlaywrightError):
        value = await party.page.evaluate(LOAD_MS)
        return float(value) if value is not None else None
    return None


def _hits(apps: tuple[RunningApp, ...]) -> Counter[HitKey]:
    # Icons are fetched by Chromium's favicon service on its own schedule, not by the page, and a
    # polled path is asked for as often as time passes (or as a race goes): both are left out. A random query (a
    # request id) would make every run's hits differ: it is left out of the key.
    return Counter((app.host, h.method, h.path, "" if h.path in app.spec.random_query else h.query)
                   for app in apps for h in app.log
                   if h.path not in app.spec.icons and not h.path.startswith(app.spec.polled))


@dataclass(slots=True)
class Modes:
    app: RunningApp
    direct_browser: Browser  # resolves the app's host name to the app (its front)
    proxy_browser: Browser  # knows no app address: only the proxy space
    server: Cobrowse
    also: tuple[RunningApp, ...] = ()  # further apps (origins) the features reach
    _direct: dict[str, Run] = field(default_factory=dict)
    _proxy: dict[str, Run] = field(default_factory=dict)
    _extra_loads: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    _first: Feature | None = None  # the first feature run, whose first page tops up the load times

    async def direct(self, feature: Feature) -> Run:
        """The reference: the app alone, without cobrowse. A run in which the app did not keep its
        own promises (a step never ready, or not showing what it should) is the app's flake, not a
        baseline (Jupyter lost its first cell run directly about once in eight loaded runs): it is
        run again, at most ``DIRECT_TRIES`` times in all, and the direct test fails on the last."""
        if feature.id not in self._direct:
            for attempt in range(1, DIRECT_TRIES + 1):
                run = await self._run_direct(feature)
                if fulfils(feature, run) or attempt == DIRECT_TRIES:
                    break
                print(f"compat: {feature.id}: the app alone did not keep its promises (try {attempt}): {run.seen}")
            self._direct[feature.id] = run
        return self._direct[feature.id]

    async def proxy(self, feature: Feature) -> Run:
        if feature.id not in self._proxy:
            self._proxy[feature.id] = await self._run_proxied(feature, followers=0)
        return self._proxy[feature.id]

    async def cobrowse(self, feature: Feature) -> Run:
        return await self._run_proxied(feature, followers=1)

    @property
    def apps(self) -> tuple[RunningApp, ...]:
        return (self.app, *self.also)

    def load_times(self) -> tuple[list[float], list[float]]:
        """Milliseconds to the first page's load event: directly, and through the proxy alone."""
        def times(runs: dict[str, Run], extra: list[float]) -> list[float]:
            return [run.load_ms for run in runs.values() if run.load_ms is not None] + extra

        return times(self._direct, self._extra_loads[0]), times(self._proxy, self._extra_loads[1])

    async def top_up_loads(self) -> None:
        """Visit the first feature's first page alone, directly and through the proxy, until each
        way has ``LOAD_ROUNDS`` load times (or a visit records none); nothing if no proxy run was made."""
        if self._first is None or not self._proxy:
            return
        first = replace(self._first, steps=self._first.steps[:1])
        while min(len(times) for times in self.load_times()) < LOAD_ROUNDS:
            direct, proxied = await self._run_direct(first), await self._run_proxied(first, followers=0)
            if direct.load_ms is None or proxied.load_ms is None:
                return
            self._extra_loads[0].append(direct.load_ms)
            self._extra_loads[1].append(proxied.load_ms)

    async def _run_direct(self, feature: Feature) -> Run:
        run = Run()
        self._first = self._first or feature
        if feature.prepare is not None:
            await feature.prepare(self.app)
        party = await _open(self.direct_browser, feature, None)
        try:
            await _goto(party, self.app.url(feature.start))
            for i, step in enumerate(feature.steps):
                if step.act is not None:
                    await _act(party, step)
                run.seen.append(await _see(party, step))
                if i == 0:
                    run.load_ms = await _load_ms(party)
        finally:
            await party.context.close()
        return run

    async def _run_proxied(self, feature: Feature, followers: int) -> Run:
        run = Run()
        if feature.prepare is not None:
            await feature.prepare(self.app)
        for app in self.apps:
            app.log.clear()
        recorder = RequestRecorder()
        created: dict[str, Any] = await self.server.create_session(self.app.url(feature.start))
        leader = await _open(self.proxy_browser, feature, recorder)
        parties = [leader]
        try:
            await _goto(leader, created["leader_url"])
            for i, step in enumerate(feature.steps):
                if step.act is not None:
                    await _act(leader, step)
                seen = await _see(leader, step)
                run.seen.append(seen)
                if i == 0 and not followers:
                    run.load_ms = await _load_ms(leader)
                if i == 0:
                    # Followers join once the leader shows the first step (they have no credentials).
                    for n in range(followers):
                        parties.append(await self._join(created, recorder, f"Follower {n + 1}"))
                for n, follower in enumerate(parties[1:], 1):
                    theirs, ours = await _see_same(follower, step, leader)
                    if theirs != ours:
                        run.out_of_step.append(f"after {step.name!r} follower {n} shows {theirs}, the leader {ours}")
            await _idle(parties)
        finally:
            for party in parties:
                await party.context.close()
        run.hits = _hits(self.apps)
        run.outside = recorder.outside(DOMAIN)
        return run

    async def _join(self, created: dict[str, Any], recorder: RequestRecorder, name: str) -> Party:
        party = await _open(self.proxy_browser, None, recorder)
        await _goto(party, created["follower_url"])
        with contextlib.suppress(PlaywrightError):
            await party.page.fill("#name", name)
            await party.page.click("button[type=submit]")
        return party


async def _see_same(follower: Party, step: Step, leader: Party) -> tuple[Seen, Seen]:
    """The follower's path and visible text after ``step``, once they are the leader's (or time is up).
    The leader's is read again each time: a page may still change on its own (a poll's answer drawn
    late, such as Jupyter's "Last Checkpoint"), and the follower may show the later text first."""
    deadline = _deadline(step)
    plain = replace(step, observe=visible_text)
    want = await _see(leader, plain)
    seen = await _see(follower, plain, deadline)
    while seen != want and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        seen = await _see(follower, plain, deadline)
        want = await _see(leader, plain, deadline)
    return seen, want


DIRECT_TRIES = 3


def fulfils(feature: Feature, run: Run) -> bool:
    """Whether a direct run shows every step ready with what the step expects."""
    return all(seen.settled and step.expect in seen.observed
               for step, seen in zip(feature.steps, run.seen, strict=True))


def check(mode: str, feature: Feature, run: Run, reference: Run, alone: Run | None = None) -> None:
    """Assert what ``mode`` promises for ``run``; ``reference`` is the direct run."""
    if mode == "direct":
        for step, seen in zip(feature.steps, run.seen, strict=True):
            assert seen.settled, f"directly, after {step.name!r} the page never showed {step.path} ready: {seen}"
            assert step.expect in seen.observed, (
                f"directly, after {step.name!r} the app showed {seen.observed[:500]!r}, expected {step.expect!r}")
        return
    assert run.hits, f"{mode}: the app was never reached"
    missing = [p for p in feature.reaches if not any(path == p for _, _, path, _ in run.hits)]
    assert not missing, f"{mode}: the app never received {missing}"
    pairs = zip(reference.seen, run.seen, strict=True)
    differs = [f"after {ours.step!r} directly {ours}, {mode} {theirs}" for ours, theirs in pairs if ours != theirs]
    assert not differs, f"{mode}: outcome differs from the direct run: " + "; ".join(differs)
    assert run.outside == [], f"{mode}: requests outside the proxy space: {run.outside}"
    if mode == "cobrowse":
        assert run.out_of_step == [], "; ".join(run.out_of_step)
        assert alone is not None
        assert run.hits == alone.hits, (
            f"app hits with a follower {dict(run.hits)} differ from the leader alone {dict(alone.hits)}")


@contextlib.asynccontextmanager
async def open_modes(app: RunningApp, *also: RunningApp, **config: Any) -> AsyncIterator[Modes]:
    """Two Chromiums (one that reaches the apps directly, one that knows only the proxy) and a
    cobrowse server whose resolver maps the apps' host names to them; skips without Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (CI installs Debian's chromium package)")
    apps = (app, *also)
    overrides = {k: v for each in apps for k, v in each.resolve_overrides().items()}
    rules = ", ".join(each.host_resolver_rules() for each in apps)
    server = await start_cobrowse(resolve_overrides=overrides, **config)
    try:
        async with async_playwright() as playwright:
            direct = await launch(playwright, (f"--host-resolver-rules={rules}",))
            proxied = await launch(playwright)
            try:
                modes = Modes(app, direct, proxied, server, also)
                yield modes
                with contextlib.suppress(Exception):  # the load times are a figure, never a failure
                    await modes.top_up_loads()
            finally:
                await proxied.close()
                await direct.close()
    finally:
        await stop_cobrowse(server)


def matrix(features: tuple[Feature, ...], known: dict[tuple[str, str], str],
           intermittent: dict[tuple[str, str], str] | None = None) -> list[Any]:
    """``(feature, mode)`` parameters; a known failure (keyed by feature name and mode) is a strict
    xfail whose reason names its cause; an ``intermittent`` one (seen to fail in some runs and pass
    in others, its cause named) is a non-strict xfail, reported as xfail or xpass."""
    params = []
    for feature in features:
        for mode in MODES:
            key = (feature.name, mode)
            reason = known.get(key) or (intermittent or {}).get(key)
            marks = [pytest.mark.xfail(strict=key in known, reason=reason)] if reason else []
            params.append(pytest.param(feature, mode, id=f"{feature.id}-{mode}", marks=marks))
    return params


async def check_mode(modes: Modes, feature: Feature, mode: str) -> None:
    """The test body every app shares: run ``feature`` in ``mode`` and assert its promises."""
    reference = await modes.direct(feature)
    if mode == "direct":
        check(mode, feature, reference, reference)
    elif mode == "proxy":
        check(mode, feature, await modes.proxy(feature), reference)
    else:
        alone = await modes.proxy(feature)
        check(mode, feature, await modes.cobrowse(feature), reference, alone)
