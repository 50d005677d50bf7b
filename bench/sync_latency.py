"""Sync latency, leader action -> applied in each follower, measured inside the pages.

The leader acts with real input through Playwright (keyboard, mouse clicks and wheel, and
``select_option``) on the target's ``/play`` page: typing into a text field, checkbox clicks,
select changes, wheel scrolls, and clicks on a button whose own handler adds a list item.

``RECORDER`` (an init script, so it runs before any page script, the runtime included) stamps
events with ``performance.timeOrigin + performance.now()``, the same machine clock in every
page: in the leader when the page sees the action (its capture listener on ``window`` runs
before the runtime's on ``document``), in each follower when the page sees it applied (the
``input``/``change``/``scroll`` event the runtime's replay causes, or the MutationObserver
record of the item the replayed click added). Not the WebSocket frame times.

Matching (``match``): the driver tags the leader's records with the action's index; each action
is stamped by its first record and identified by its last value (the text after the keystroke,
the checkbox state, the option, the scroll offset, the item's text); in each follower the first
record after the previous match with that value and a later time is the application. Actions
are paced, so what is measured is latency, not a queue.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Page
from sync_parties import close_all, start_session

# Stamps what the page sees, in every top-level page, before any page script (the runtime
# included) runs: [kind, value, time, action index]. The leader's action index is set by the
# driver before each action; followers leave it -1 (they are matched by value and order).
# Each kind is stamped at the first event of the action, before the runtime sends anything
# for it: a keystroke at its (trusted) keydown, with the value the `input` event then shows; a
# checkbox at its click (`checked` has already flipped); a select at `input` (before `change`).
# In a follower the same listeners see the replay: the value set with its `input`/`change`
# events, the replayed click, the item the page's own handler added.
RECORDER = """(() => {
  if (window.top !== window) return;
  const now = () => performance.timeOrigin + performance.now();
  const rec = [];
  Object.defineProperty(window, '__benchRec', { value: rec });
  window.__benchAction = -1;
  let keydownAt = 0;
  const push = (kind, value, t) => rec.push([kind, value, t === undefined ? now() : t, window.__benchAction]);
  const on = (type, fn) => window.addEventListener(type, fn, { capture: true, passive: true });
  on('keydown', (e) => { if (e.isTrusted && e.target.id === 't') keydownAt = now(); });
  on('input', (e) => {
    if (e.target.id === 't') { push('type', e.target.value, keydownAt || undefined); keydownAt = 0; }
    else if (e.target.id === 's') push('select', e.target.value);
  });
  on('change', (e) => {
    if (e.target.id === 'c') push('check', String(e.target.checked));
    else if (e.target.id === 's') push('select', e.target.value);
  });
  on('click', (e) => {
    const list = document.getElementById('list');
    if (e.target.id === 'c') push('check', String(e.target.checked));
    else if (e.target.id === 'add' && list) push('click', 'item ' + (list.children.length + 1));
  });
  on('scroll', (e) => { if (e.target === document) push('scroll', Math.round(window.scrollY)); });
  document.addEventListener('DOMContentLoaded', () => {
    const list = document.getElementById('list');
    if (!list) return;
    new MutationObserver((records) => {
      const t = now();
      for (const r of records) for (const node of r.addedNodes) push('added', node.textContent, t);
    }).observe(list, { childList: true });
  });
})();"""

# Action kind -> the record kind that stamps it in the leader, and the one that shows it applied.
KINDS = {"type": ("type", "type"), "check": ("check", "check"), "select": ("select", "select"),
         "scroll": ("scroll", "scroll"), "click": ("click", "added")}
# The mix, repeated: 40% keystrokes, 15% each of the others.
SCHEDULE = ("type", "check", "type", "scroll", "select", "type", "click", "type", "scroll", "check",
            "type", "select", "type", "click", "type", "scroll", "type", "check", "click", "select")
SCROLL_SLACK_PX = 3
# Pages in different renderer processes read the clock through their own time origins.
CLOCK_SLACK_MS = 5.0


@dataclass(slots=True)
class Script:
    """The leader's actions on /play; keeps just enough state to make every action change something."""

    page: Page
    typed: int = 0
    options: int = 0
    scrolls: int = 0
    focus: str = ""

    async def act(self, kind: str) -> None:
        page = self.page
        if kind == "type":
            if self.focus != "t":
                await page.click("#t")
                self.focus = "t"
            await page.keyboard.press("abcdefghij"[self.typed % 10])
            self.typed += 1
        elif kind == "check":
            await page.click("#c")
            self.focus = "c"
        elif kind == "select":
            self.options += 1
            await page.select_option("#s", "abcd"[self.options % 4])
            self.focus = "s"
        elif kind == "click":
            await page.click("#add")
            self.focus = "add"
        else:
            self.scrolls += 1
            down = (self.scrolls - 1) // 6 % 2 == 0
            await page.mouse.move(600, 500)
            await page.mouse.wheel(0, 360 if down else -360)


Stamps = dict[int, tuple[Any, float]]  # action index -> (value it left, when the leader saw it)


def stamp(leader: list[list[Any]], actions: list[str]) -> Stamps:
    """Each action's first leader record of its kind (the time) and last one (the value it left)."""
    stamped: Stamps = {}
    for kind, value, t, index in leader:
        if 0 <= index < len(actions) and KINDS[actions[index]][0] == kind:
            first = stamped.get(index)
            stamped[index] = (value, first[1] if first else t)
    return stamped


def match(stamped: Stamps, actions: list[str], follower: list[list[Any]]) -> dict[int, float]:
    """Latency (ms) of every stamped action this follower applied, by action index.

    A follower record applies an action when it shows the action's value, comes at most
    ``CLOCK_SLACK_MS`` before the leader's stamp and before the next action that left the same
    value (a checkbox alternates: its next "true" is two actions on). A record outside that
    window leaves the action unapplied rather than shifting every later match.
    """
    by_kind: dict[str, list[list[Any]]] = defaultdict(list)
    for record in follower:
        by_kind[record[0]].append(record)
    next_same: dict[int, float] = {}
    seen_last: dict[tuple[str, str], float] = {}
    for index in sorted(stamped, reverse=True):
        value, t0 = stamped[index]
        key = (actions[index], json.dumps(value))
        next_same[index] = seen_last.get(key, math.inf)
        seen_last[key] = t0
    cursor: dict[str, int] = defaultdict(int)
    out: dict[int, float] = {}
    for index in sorted(stamped):
        value, t0 = stamped[index]
        kind = KINDS[actions[index]][1]
        seen = by_kind[kind]
        for j in range(cursor[kind], len(seen)):
            got, when = seen[j][1], seen[j][2]
            if when >= next_same[index]:
                break
            same = abs(got - value) <= SCROLL_SLACK_PX if kind == "scroll" else got == value
            if same and when >= t0 - CLOCK_SLACK_MS:
                cursor[kind] = j + 1
                out[index] = when - t0
                break
    return out


async def latency_run(browser: Browser, port: int, followers: int, actions: int, pace: float) -> dict[str, Any]:
    leader, crowd = await start_session(browser, port, "/play", followers, RECORDER)
    script = Script(leader.page)
    plan = [SCHEDULE[i % len(SCHEDULE)] for i in range(actions)]
    try:
        await asyncio.sleep(1.5)  # the first digests and the toolbar settle
        for party in (leader, *crowd):
            party.reset()
        started = time.monotonic()
        for index, kind in enumerate(plan):
            await leader.page.evaluate("(i) => { window.__benchAction = i; }", index)
            # The index stays until the next action: a scroll event comes a frame after the wheel.
            await script.act(kind)
            await asyncio.sleep(pace)
        elapsed = time.monotonic() - started
        await asyncio.sleep(2.0)  # stragglers
        stamped = stamp(await leader.page.evaluate("() => window.__benchRec"), plan)
        applied = [match(stamped, plan, await f.page.evaluate("() => window.__benchRec")) for f in crowd]
        per_kind: dict[str, list[float]] = defaultdict(list)
        for got in applied:
            for index, ms in got.items():
                per_kind[plan[index]].append(ms)
        # When everyone has it: the slowest follower, for the actions every follower applied.
        everyone = set(stamped).intersection(*applied)
        return {
            "followers": followers, "actions": actions, "stamped": len(stamped),
            "applied": sum(len(got) for got in applied),
            "missing": len(stamped) * len(crowd) - sum(len(got) for got in applied),
            "all": [ms for got in applied for ms in got.values()], "per_kind": dict(per_kind),
            "last": [max(got[i] for got in applied) for i in sorted(everyone)] if len(crowd) > 1 else [],
            "seconds": elapsed,
            "sync_in": statistics.median([f.sync_in for f in crowd]),
            "frames_in": statistics.median([f.frames_in for f in crowd]),
            "sync_out": statistics.median([f.sync_out for f in crowd]),
            "leader_out": leader.sync_out,
            # Per follower: actions not seen applied, page loads during the run, the runtime's counters.
            "followers_detail": [
                {"missing": len(stamped) - len(got), "loads": f.loads,
                 "counters": (await f.page.evaluate("() => window.__cbSync.status().counters"))}
                for f, got in zip(crowd, applied, strict=True)],
        }
    finally:
        await close_all([leader, *crowd])
