"""Rewrite throughput: cobrowse's HTML and CSS rewriters beside pywb's, same pages, same run.

    python bench/bench_rewrite.py [--html DIR] [--css DIR] [--rounds 7] [--no-pywb] [--results FILE]

HTML is timed three ways in the same run: the compiled rewriter (lol_html, ``rewriter.html``),
the previous one (the regex tokenizer, ``rewriter.html_regex``) and pywb; each cobrowse row also
with the server's script rewriter (``+js``: inline scripts and event handlers through
``rewriter.js_cache.ScriptCache``, warmed by one round first, as a running server's is).
MB/s is the median round; the spread is the slowest and fastest round.

Times are CPU seconds of the timing process (``time.process_time``), for both rewriters, so
other load on a shared machine skews the figures less than wall-clock time would.
For each corpus: total MB/s (median of the rounds), p50/p99 per-page time (each page's median
over the rounds), pages whose rewrite raised, and (HTML) absolute http(s) URLs left outside
the proxy space in URL-bearing attributes of the output, found by parsing it with lxml.
pywb runs in its own venv (``bench/.venv-pywb``, created here on first use) through
``bench/pywb_helper.py``, so it never enters the project's interpreter.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from rewriter.css import rewrite_css  # noqa: E402
from rewriter.html import HtmlStream, PageContext, rewrite_html  # noqa: E402
from rewriter.html_regex import rewrite_html_regex  # noqa: E402
from rewriter.html_tables import GLOBAL_ATTRS, TAG_RULES, Kind  # noqa: E402
from rewriter.js_cache import ScriptCache  # noqa: E402
from rewriter.space import ProxySpace  # noqa: E402

VENV = ROOT / "bench" / ".venv-pywb"
DOMAIN = "cobrowse.localhost"
PAGE_URL = "https://example.com/a/b.html"
_ABSOLUTE = re.compile(r"(?:https?:)?[/\\]{2,}([^/?#\\]*)")
INJECT = '<script src="/__cobrowse/runtime.js"></script>'


def ensure_pywb() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pywb"], check=True)
    return python


def time_ours(bodies: list[bytes], fn: Callable[[bytes], bytes], rounds: int) -> dict[str, object]:
    round_times: list[float] = []
    pages: list[list[float]] = [[] for _ in bodies]
    failed: set[int] = set()
    for _ in range(rounds):
        start = time.process_time()
        for i, body in enumerate(bodies):
            t0 = time.process_time()
            try:
                fn(body)
            except Exception:
                failed.add(i)
            pages[i].append(time.process_time() - t0)
        round_times.append(time.process_time() - start)
    return {"rounds": round_times, "pages": pages, "failed": len(failed)}


def time_pywb(kind: str, paths: list[Path], rounds: int) -> dict[str, object]:
    python = ensure_pywb()
    helper = ROOT / "bench" / "pywb_helper.py"
    out = subprocess.run(
        [str(python), str(helper), kind, str(rounds), *map(str, paths)], check=True, capture_output=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def summary(result: dict[str, object], total_bytes: int) -> dict[str, float]:
    rounds = result["rounds"]
    pages = result["pages"]
    assert isinstance(rounds, list) and isinstance(pages, list)
    per_page = sorted(statistics.median(p) for p in pages)
    median_round = statistics.median(rounds)
    return {
        "mb_s": total_bytes / 1e6 / median_round,
        "slowest": total_bytes / 1e6 / max(rounds),
        "fastest": total_bytes / 1e6 / min(rounds),
        "p50_ms": 1000 * per_page[len(per_page) // 2],
        "p99_ms": 1000 * per_page[min(len(per_page) - 1, int(len(per_page) * 0.99))],
        "failed": float(result["failed"]),  # type: ignore[arg-type]
    }


def escaped_urls(html_out: bytes) -> list[str]:
    """Absolute http(s) URLs in URL-bearing attributes that are not proxy URLs."""
    bad: list[str] = []
    doc = lxml.html.document_fromstring(html_out)
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        rules = TAG_RULES.get(el.tag.lower(), GLOBAL_ATTRS)
        for name, value in el.attrib.items():
            kind = rules.get(name.lower())
            if kind in (Kind.URL, Kind.URL_LIST):
                urls = value.split() if kind is Kind.URL_LIST else [value]
            elif kind is Kind.SRCSET:
                urls = [c.strip().split()[0] for c in value.split(", ") if c.strip()]
            else:
                continue
            for url in urls:
                low = url.strip().lower()
                found = _ABSOLUTE.match(low)
                if found:
                    # Browsers skip any run of slashes after an http(s) scheme ("///host").
                    host = found.group(1).rsplit("@", 1)[-1].split(":")[0]
                    # No host ("https://#"): not a URL a browser can fetch, so nothing escapes.
                    if host and not host.endswith("." + DOMAIN):
                        bad.append(url)
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", type=Path, default=ROOT.parent / "shared" / "corpus" / "html")
    parser.add_argument("--css", type=Path, default=ROOT.parent / "shared" / "corpus" / "css")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-pywb", action="store_true")
    parser.add_argument("--results", type=Path, help="rewrite the '## Rewriting' section of this file")
    args = parser.parse_args()

    space = ProxySpace("abcdefghij", DOMAIN, port=8080)
    ctx = PageContext(PAGE_URL, space, INJECT)

    def css(body: bytes) -> bytes:
        text = body.decode("utf-8", "replace")
        return rewrite_css(text, lambda u: space.to_proxy(u, "https://example.com/a/b.css")).encode("utf-8")

    scripts = ScriptCache()
    with_js = PageContext(PAGE_URL, space, INJECT, js=scripts.rewrite_text, js_body=scripts.rewrite_body_text)
    html_rewriters: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("cobrowse (lol_html)", lambda b: rewrite_html(b, ctx)),
        ("cobrowse previous (regex)", lambda b: rewrite_html_regex(b, ctx)),
        ("cobrowse (lol_html) +js", lambda b: rewrite_html(b, with_js)),
        ("cobrowse previous (regex) +js", lambda b: rewrite_html_regex(b, with_js)),
    ]
    lines: list[str] = []
    escaped = 0
    for kind, folder, fns in (("HTML", args.html, html_rewriters), ("CSS", args.css, [("cobrowse", css)])):
        paths = sorted(p for p in folder.iterdir() if p.suffix in (".html", ".css"))
        bodies = [p.read_bytes() for p in paths]
        total = sum(map(len, bodies))
        rows = []
        first = 0.0
        for name, fn in fns:
            if name.endswith("+js"):
                time_ours(bodies, fn, 1)  # the script cache warmed, as in a running server
            ours = summary(time_ours(bodies, fn, args.rounds), total)
            first = first or ours["mb_s"]
            rows.append(_row(kind, len(paths), total, name, ours))
        if not args.no_pywb:
            theirs = summary(time_pywb(kind.lower(), paths, args.rounds), total)
            rows.append(_row(kind, len(paths), total, "pywb 2.x", theirs))
            rows.append(f"| {kind} | | | **ratio** (first row / pywb) | **{first / theirs['mb_s']:.1f}x** | | | | |")
        lines.extend(rows)
        if kind == "HTML":
            print(first_output(bodies, ctx), flush=True)
            escapes = [u for b in bodies for u in escaped_urls(html_rewriters[0][1](b))]
            print(f"HTML: absolute URLs outside the proxy space: {len(escapes)} {escapes[:5]}")
            escaped = len(escapes)
        print("\n".join(rows), flush=True)

    table = [
        "| corpus | files | MB | rewriter | MB/s (median) | spread (slowest-fastest round) | p50 ms/page | "
        "p99 ms/page | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *lines,
    ]
    section = "\n".join(
        [
            "## Rewriting",
            "",
            f"Command: `python bench/bench_rewrite.py --rounds {args.rounds}` (median of {args.rounds} rounds, "
            "one process, the same pages for both rewriters in one run).",
            "",
            *table,
            "",
            f"Absolute http(s) URLs left outside the proxy space in URL-bearing attributes: {escaped}.",
            "",
        ]
    )
    print(section)
    if args.results:
        write_section(args.results, section)


def first_output(bodies: list[bytes], ctx: PageContext, chunk: int = 16 * 1024) -> str:
    """How soon the streamed rewrite has output, with each page fed in ``chunk``-byte pieces
    (as a network delivers it): CPU ms to the first output bytes and to the whole page."""
    first: list[float] = []
    whole: list[float] = []
    for body in bodies:
        t0 = time.process_time()
        stream = HtmlStream(ctx, "utf-8")
        seen = None
        for at in range(0, len(body), chunk):
            if stream.feed(body[at:at + chunk]) and seen is None:
                seen = time.process_time() - t0
        stream.close()
        whole.append(time.process_time() - t0)
        first.append(whole[-1] if seen is None else seen)
    return (f"HTML streamed in {chunk // 1024} KiB pieces: first output after {1000 * statistics.median(first):.2f} ms "
            f"(median; p90 {1000 * sorted(first)[len(first) * 9 // 10]:.2f}), whole page "
            f"{1000 * statistics.median(whole):.2f} ms (p90 {1000 * sorted(whole)[len(whole) * 9 // 10]:.2f})")


def _row(kind: str, files: int, total: int, name: str, got: dict[str, float]) -> str:
    return (f"| {kind} | {files} | {total / 1e6:.1f} | {name} | {got['mb_s']:.1f} | "
            f"{got['slowest']:.1f}-{got['fastest']:.1f} | {got['p50_ms']:.2f} | {got['p99_ms']:.2f} | "
            f"{int(got['failed'])} |")


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start = text.find("## Rewriting")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text)


if __name__ == "__main__":
    main()
