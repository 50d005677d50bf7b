"""Time pywb's HTML or CSS rewriter over files; run with bench/.venv-pywb/bin/python.

Usage: pywb_helper.py html|css ROUNDS FILE... ; prints one JSON object:
{"rounds": [CPU seconds per round...], "pages": [[CPU seconds per page per round]...],
"failed": n}. CPU time of this process, so that other load on a shared machine counts less.
Lives in its own interpreter (pywb's venv) so that pywb never enters the project's.
pywb is set up as its live proxy uses it: a UrlRewriter with a /live/ prefix, the
JSWombatProxyRewriter for inline scripts and the CSSRewriter for styles.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pywb.rewrite.html_rewriter import HTMLRewriter
from pywb.rewrite.regex_rewriters import CSSRewriter, JSWombatProxyRewriter
from pywb.rewrite.url_rewriter import UrlRewriter

PREFIX = "http://localhost:8080/live/"
HEAD_INSERT = '<script src="/static/wombat.js"></script>'


def rewrite_html(text: str) -> str:
    urlrw = UrlRewriter("mp_/https://example.com/a/b.html", PREFIX)
    rw = HTMLRewriter(urlrw, head_insert=HEAD_INSERT, js_rewriter_class=JSWombatProxyRewriter,
                      css_rewriter_class=CSSRewriter, url="https://example.com/a/b.html")
    return rw.rewrite(text) + rw.close()


def rewrite_css(text: str) -> str:
    urlrw = UrlRewriter("mp_/https://example.com/a/b.css", PREFIX)
    rw = CSSRewriter(urlrw)
    return rw.rewrite(text) + rw.final_read()


def main() -> None:
    kind, rounds, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    bodies = [Path(p).read_bytes() for p in paths]
    fn = rewrite_html if kind == "html" else rewrite_css
    round_times, pages, failed = [], [[] for _ in bodies], 0
    for _ in range(rounds):
        start = time.process_time()
        for i, body in enumerate(bodies):
            t0 = time.process_time()
            try:
                fn(body.decode("utf-8", "replace")).encode("utf-8", "replace")
            except Exception:
                failed += 1
            pages[i].append(time.process_time() - t0)
        round_times.append(time.process_time() - start)
    json.dump({"rounds": round_times, "pages": pages, "failed": failed // rounds}, sys.stdout)


if __name__ == "__main__":
    main()
