"""XML rewrite throughput beside lxml's own parse + serialise, same documents, same run.

    python bench/bench_xml.py [--rounds 7] [--html DIR] [--svg-dir DIR] [--max-svgs 300]

Documents, by kind (all real or made by real generators, nothing hand-written):
- SVG: the largest ``--max-svgs`` SVG files under ``--svg-dir`` (default: the installed Python
  packages, which ship icon sets, SVG fonts and logos);
- RSS and Atom: feeds of 500 items made by Django's ``feedgenerator``;
- sitemap: 5,000 URLs rendered by Django's own ``sitemap.xml`` template (django.contrib.sitemaps);
- XHTML: the pages of ``../shared/corpus/html`` parsed by lxml.html and written out as XML.

For each kind: MB, ``rewriter.xml.rewrite_xml`` MB/s, and lxml parse + serialise alone (the
same safe parser settings, ``tostring`` of the tree) MB/s; CPU time (``time.process_time``),
median of the rounds. Only documents lxml parses are timed (some corpus pages are not
well-formed as XML); outputs that do not parse back are counted (should be 0).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402
from lxml import etree  # noqa: E402

from rewriter.html import PageContext  # noqa: E402
from rewriter.space import ProxySpace  # noqa: E402
from rewriter.xml import rewrite_xml  # noqa: E402

CTX = PageContext(url="https://www.example.com/doc.xml", space=ProxySpace("abcdefghij", "cobrowse.localhost"),
                  inject='<script src="/__cb/runtime.js" data-cb="{}"></script>')


def svgs(directory: Path, limit: int) -> list[bytes]:
    files = sorted(directory.rglob("*.svg"), key=lambda p: p.stat().st_size, reverse=True)[:limit]
    return [p.read_bytes() for p in files]


def feeds() -> list[bytes]:
    from django.utils import feedgenerator

    made = []
    for kind in (feedgenerator.Rss201rev2Feed, feedgenerator.Atom1Feed):
        feed = kind(title="Bench feed", link="https://news.example.com/", description="d",
                    feed_url="https://news.example.com/feed/")
        for n in range(500):
            feed.add_item(title=f"Story {n}", link=f"https://news.example.com/2024/story-{n}/",
                          description=f"<p>Story {n} <a href='https://other.example.org/{n}'>more</a></p>" * 3,
                          unique_id=f"https://news.example.com/?p={n}",
                          pubdate=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
                          enclosures=[feedgenerator.Enclosure(f"https://cdn.example.com/{n}.mp3", "1", "audio/mpeg")])
        made.append(feed.writeString("utf-8").encode("utf-8"))
    return made


def sitemap() -> list[bytes]:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(INSTALLED_APPS=["django.contrib.sitemaps"], USE_TZ=True,
                           TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                                       "APP_DIRS": True}])
        django.setup()
    from django.template.loader import render_to_string

    urlset = [{"location": f"https://www.example.com/articles/{n}/", "lastmod": datetime.date(2024, 1, 1),
               "changefreq": "weekly", "priority": "0.5", "alternates": [], "item": None} for n in range(5000)]
    return [render_to_string("sitemap.xml", {"urlset": urlset}).encode("utf-8")]


def xhtml(directory: Path) -> list[bytes]:
    made = []
    for path in sorted(directory.glob("*.html")):
        try:
            tree = lxml.html.document_fromstring(path.read_bytes())
        except (etree.ParserError, ValueError):
            continue
        tree.set("xmlns", "http://www.w3.org/1999/xhtml")
        made.append(etree.tostring(tree, method="xml", encoding="UTF-8", xml_declaration=True))
    return made


def parses(body: bytes) -> bool:
    try:
        _parse_serialise(body)
    except etree.XMLSyntaxError:
        return False
    return True


def _parse_serialise(body: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                             strip_cdata=False)
    out: bytes = etree.tostring(etree.fromstring(body, parser).getroottree(), encoding="UTF-8",
                                xml_declaration=True)
    return out


def timed(bodies: list[bytes], fn: Callable[[bytes], bytes], rounds: int) -> float:
    """Median MB/s over the rounds (CPU time)."""
    size = sum(map(len, bodies))
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for body in bodies:
            fn(body)
        times.append(time.process_time() - start)
    return size / 1e6 / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--html", type=Path, default=ROOT.parent / "shared" / "corpus" / "html")
    ap.add_argument("--svg-dir", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    ap.add_argument("--max-svgs", type=int, default=300)
    args = ap.parse_args()

    kinds = {"SVG": svgs(args.svg_dir, args.max_svgs), "RSS + Atom (Django feedgenerator)": feeds(),
             "sitemap (Django sitemaps template)": sitemap(), "XHTML (corpus pages as XML)": xhtml(args.html)}
    print("| documents | files | MB | rewrite_xml MB/s | lxml parse + serialise MB/s | ratio | bad output |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, found in kinds.items():
        bodies = [b for b in found if parses(b)]  # both sides time the same well-formed documents
        if not bodies:
            continue
        bad = 0
        for body in bodies:
            try:
                etree.fromstring(rewrite_xml(body, CTX), etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError:
                bad += 1
        ours = timed(bodies, lambda b: rewrite_xml(b, CTX), args.rounds)
        lxml_alone = timed(bodies, _parse_serialise, args.rounds)
        mb = sum(map(len, bodies)) / 1e6
        ratio = ours / lxml_alone
        print(f"| {name} | {len(bodies)} | {mb:.1f} | {ours:.1f} | {lxml_alone:.1f} | {ratio:.2f} | {bad} |")


if __name__ == "__main__":
    main()
