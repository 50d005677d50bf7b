"""Rewrite throughput: cobrowse's HTML and CSS rewriters beside pywb's, same pages, same run.

    python bench/bench_rewrite.py [--html DIR] [--css DIR] [--rounds 7] [--no-pywb] [--results FILE]

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
from rewriter.html import PageContext, rewrite_html  # noqa: E402
from rewriter.html_tables import GLOBAL_ATTRS, TAG_RULES, Kind  # noqa: E402
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

    lines: list[str] = []
    for kind, folder, fn in (("HTML", args.html, lambda b: rewrite_html(b, ctx)), ("CSS", args.css, css)):
        paths = sorted(p for p in folder.iterdir() if p.suffix in (".html", ".css"))
        bodies = [p.read_bytes() for p in paths]
        total = sum(map(len, bodies))
        ours = summary(time_ours(bodies, fn, args.rounds), total)
        row = f"| {kind} | {len(paths)} | {total / 1e6:.1f} | cobrowse | {ours['mb_s']:.1f} | "
        row += f"{ours['p50_ms']:.2f} | {ours['p99_ms']:.2f} | {int(ours['failed'])} |"
        rows = [row]
        if not args.no_pywb:
            theirs = summary(time_pywb(kind.lower(), paths, args.rounds), total)
            rows.append(
                f"| {kind} | {len(paths)} | {total / 1e6:.1f} | pywb 2.x | {theirs['mb_s']:.1f} | "
                f"{theirs['p50_ms']:.2f} | {theirs['p99_ms']:.2f} | {int(theirs['failed'])} |"
            )
            rows.append(f"| {kind} | | | **ratio** | **{ours['mb_s'] / theirs['mb_s']:.1f}x** | | | |")
        lines.extend(rows)
        if kind == "HTML":
            escapes = [u for b in bodies for u in escaped_urls(fn(b))]
            print(f"HTML: absolute URLs outside the proxy space: {len(escapes)} {escapes[:5]}")
            escaped = len(escapes)
        print("\n".join(rows), flush=True)

    table = [
        "| corpus | files | MB | rewriter | MB/s (median) | p50 ms/page | p99 ms/page | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
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
