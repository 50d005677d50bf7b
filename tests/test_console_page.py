"""The console page as served: its parts all inlined, in order, under a CSP that allows only them.

``proxy.console_page`` joins ``static/console/`` (listed in ``ORDER``) into the page's one
``<style>`` and one ``<script>``. Checked here without a browser: every part is listed and
present, no slot is left unfilled, the CSP's hashes are those of the two blocks, and no part
uses a top-level name that only a later part defines (the parts read top to bottom).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from world.harness import StartCobrowse

from proxy.console_page import SCRIPT_SLOT, STYLE_SLOT, console_page
from proxy.security_headers import page_headers

FOLDER = resources.files("static").joinpath("console")
ORDER = FOLDER.joinpath("ORDER").read_text("utf-8").split()
DECLARED = re.compile(r"^(?:function\s+([A-Za-z_$][\w$]*)|var\s+([A-Za-z_$][\w$]*))", re.MULTILINE)
# Comments and string literals: words there are prose, not uses.
NOT_CODE = re.compile(r'//[^\n]*|"(?:[^"\\\n]|\\.)*"')


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_every_part_is_listed_once_and_every_listed_part_exists() -> None:
    present = sorted(p.name for p in FOLDER.iterdir() if p.name != "ORDER")
    assert sorted(ORDER) == present
    assert len(set(ORDER)) == len(ORDER)


def test_the_page_has_one_style_and_one_script_holding_every_part_and_no_slot_left() -> None:
    page = console_page()
    assert STYLE_SLOT not in page and SCRIPT_SLOT not in page
    assert len(re.findall(r"<script\b", page)) == 1 and len(re.findall(r"<style\b", page)) == 1
    for name in ORDER:
        assert FOLDER.joinpath(name).read_text("utf-8") in page, name


def test_no_part_uses_a_name_only_a_later_part_defines() -> None:
    scripts = [name for name in ORDER if name.endswith(".js")]
    sources = {name: NOT_CODE.sub('""', FOLDER.joinpath(name).read_text("utf-8")) for name in scripts}
    defined_by = {next(n for n in found if n): name for name in scripts for found in DECLARED.findall(sources[name])}
    late = []
    for index, name in enumerate(scripts):
        later = {n for n, part in defined_by.items() if scripts.index(part) > index}
        late += [f"{name} uses {n}" for n in sorted(later) if re.search(rf"(?<![\w$.]){re.escape(n)}\b", sources[name])]
    assert late == []


async def test_the_served_csp_allows_exactly_the_pages_script_and_style(start_server: StartCobrowse) -> None:
    server = await start_server()
    reply = await server.request("GET", f"{server.control}/", cookies={})
    assert reply.status == 200
    script = re.search(r"<script>(.*?)</script>", reply.text, re.DOTALL)
    style = re.search(r"<style>(.*?)</style>", reply.text, re.DOTALL)
    assert script and style
    csp = dict(d.strip().split(" ", 1) for d in (reply.header("Content-Security-Policy") or "").split(";"))
    assert csp["script-src"] == _sha256(script.group(1)) and csp["style-src"] == _sha256(style.group(1))
    assert csp["connect-src"] == "'self'" and csp["form-action"] == "'none'"
    assert page_headers(reply.text, connect="'self'")["Content-Security-Policy"] == reply.header(
        "Content-Security-Policy")
