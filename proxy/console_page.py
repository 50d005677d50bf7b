"""The agent's console page: ``static/console.html`` with its style and script parts inlined.

The console is written as small parts in ``static/console/`` (stylesheets and scripts, joined in
the order ``static/console/ORDER`` gives) and served as one document whose only ``<style>`` and
only ``<script>`` hold them, so the strict page CSP (``proxy.security_headers.page_headers``)
allows exactly those two blocks by hash and nothing else. The scripts are wrapped in one strict
function: a part may use the names every earlier part defined, never a later one's.
The page talks to the REST API alone (``connect-src 'self'``); it posts no form anywhere.
"""

from __future__ import annotations

from importlib import resources

STYLE_SLOT = "/*{{console.css}}*/"
SCRIPT_SLOT = "/*{{console.js}}*/"


def console_page() -> str:
    """The console document, parts inlined (read per request: the files are small)."""
    folder = resources.files("static").joinpath("console")
    order = folder.joinpath("ORDER").read_text("utf-8").split()
    styles = [folder.joinpath(name).read_text("utf-8") for name in order if name.endswith(".css")]
    scripts = [f"// ---- {name}\n" + folder.joinpath(name).read_text("utf-8") for name in order if name.endswith(".js")]
    script = '(function cbConsole() {\n"use strict";\n' + "\n".join(scripts) + "\n})();\n"
    page = resources.files("static").joinpath("console.html").read_text("utf-8")
    return page.replace(STYLE_SLOT, "\n".join(styles)).replace(SCRIPT_SLOT, script)
