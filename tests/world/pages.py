"""Shared page parts for the fixture sites: a tiny check harness every page script uses.

Each feature a page exercises owns a ``<span class="check" id=...>`` that starts as
``pending`` and ends as ``ok`` or ``fail: <why>``; tests wait until nothing is pending and then
read every check, so a failure names the feature and the reason.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

# A 1x1 transparent PNG: what every image of the world serves.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)

CHECK_HARNESS = """
<script>
function report(id, good, detail) {
  const el = document.getElementById(id);
  if (el && el.textContent === 'pending') el.textContent = good ? 'ok' : 'fail: ' + detail;
}
async function check(id, fn) {
  let result;
  try { result = await fn(); } catch (e) { result = 'threw ' + e; }
  report(id, result === true, String(result));
}
function poll(id, fn) {
  const started = Date.now();
  const timer = setInterval(() => {
    let result;
    try { result = fn(); } catch (e) { result = 'threw ' + e; }
    if (result === true || Date.now() - started > 10000) {
      clearInterval(timer);
      report(id, result === true, String(result));
    }
  }, 50);
}
function expectNames(got, present, absent) {
  const missing = present.filter((n) => !got.includes(n));
  const extra = absent.filter((n) => got.includes(n));
  if (missing.length || extra.length) {
    return 'missing [' + missing + '] unexpected [' + extra + '] in [' + got + ']';
  }
  return true;
}
function documentCookieNames() {
  return document.cookie.split(';').map((s) => s.split('=')[0].trim()).filter(Boolean);
}
</script>
"""


def page(title: str, body: str, head: str = "") -> str:
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{title}</title>{CHECK_HARNESS}{head}</head>\n<body>\n{body}\n</body></html>\n"
    )


def html_response(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def cookie_names(request: web.Request) -> list[str]:
    return sorted(request.cookies.keys())


def static_html(text: str, headers: dict[str, str] | None = None) -> Handler:
    """A handler that answers every request with the HTML ``text`` (and ``headers``)."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html", headers=headers)

    return handler
