"""Chromium helpers for the end-to-end tests: launch flags, check reading, request recording.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never a downloaded build).
``wait_checks`` waits until a page has no ``pending`` check left (or the timeout passes) and
returns every check's text, so an assertion failure names each broken feature and why.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Frame, Page, Playwright, Request, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)

# URL schemes a page may use without any network request leaving the browser.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome-error"})


async def launch(playwright: Playwright, extra_args: tuple[str, ...] = ()) -> Browser:
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args]
    )


def _chromium_missing() -> bool:
    return not CHROMIUM.exists()


@contextlib.asynccontextmanager
async def module_chromium() -> AsyncIterator[Browser]:
    """One Chromium for a module-scoped fixture (it knows no fixture address, only ``*.localhost``);
    the test skips, naming why, when Chromium is not installed."""
    if _chromium_missing():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (CI installs Debian's chromium package)")
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        try:
            yield launched
        finally:
            await launched.close()


async def wait_checks(
    target: Page | Frame, ids: tuple[str, ...], timeout_ms: float = 20_000
) -> dict[str, str]:
    """Each check's final text; still ``pending`` ones are reported as such, not raised."""
    selector = ",".join(f"#{i}" for i in ids)
    with contextlib.suppress(PlaywrightTimeout):
        await target.wait_for_function(
            """(sel) => { const els = document.querySelectorAll(sel);
                          return els.length > 0 && [...els].every((e) => e.textContent !== 'pending'); }""",
            arg=selector,
            timeout=timeout_ms,
        )
    texts: dict[str, str] = await target.evaluate(
        """(ids) => Object.fromEntries(ids.map((i) => {
              const el = document.getElementById(i); return [i, el ? el.textContent : 'missing']; }))""",
        list(ids),
    )
    return texts


@dataclass(slots=True)
class RequestRecorder:
    """Every URL a browser context requested, in order."""

    urls: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        # Playwright tags handlers with attributes, so it gets a plain function, not this object.
        def record(request: Request) -> None:
            self.urls.append(request.url)

        context.on("request", record)

    def outside(self, domain: str) -> list[str]:
        """Requested URLs that are neither local nor under ``domain`` (should be none)."""
        bad = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in LOCAL_SCHEMES:
                continue
            host = (parts.hostname or "").lower()
            if parts.scheme not in ("http", "https", "ws", "wss") or not (
                host == domain or host.endswith("." + domain)
            ):
                bad.append(url)
        return bad
