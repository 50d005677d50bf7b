"""Audit export speed: records per second for each format of ``cobrowse audit export``.

Run from the repository root:  python bench/bench_audit_export.py [--records 10000] [--rounds 5]
                                                                  [--body-bytes 0]

Builds one session's trail in a temporary data dir, sealed as the server seals it (a new
keyring, ``sessions.audit_chain.seal`` over the canonical bytes): ``--records`` exchanges of a
page load (10 browser and 7 target headers, as ``bench_audit.py --cpu`` uses), a navigation
event every 10 exchanges, bodies of ``--body-bytes`` each (0: metadata only, what servers
record today). Then runs the CLI's export (``proxy.cli.main``, in this process, to a file) for
each format, ``--rounds`` times, and prints the median time and records/s (exchanges and events
alike: every record is opened, checked and encoded), and the output size. The API shares the
walk (``proxy.audit_export.Export``), so its per-record cost is the same.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.audit_export import FORMATS
from proxy.audit_keys import key_file
from proxy.cli import main
from sessions.audit_chain import Head, new_keyring, seal
from sessions.audit_record import Exchange, Record, encode, event

SESSION = "benchexprt"
BROWSER_HEADERS = (
    ("Host", "shop.example"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.9"), ("Accept-Encoding", "gzip, deflate, br"), ("Cookie", "REDACTED"),
    ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document"), ("Sec-Fetch-Site", "same-origin"),
    ("Referer", "http://shop.example/catalogue?page=2"),
)
TARGET_HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "18342"), ("Cache-Control", "no-cache"),
    ("Set-Cookie", "REDACTED"), ("Date", "Thu, 03 Dec 2026 14:00:00 GMT"), ("Server", "nginx"),
    ("Vary", "Accept-Encoding"),
)


def records(count: int, body_bytes: int) -> list[Record]:
    body = os.urandom(body_bytes)
    out: list[Record] = [event(1.7e9, "", "created", url="http://shop.example/", agent="bench")]
    for n in range(count):
        url = f"http://shop.example/item/{n}?ref=list&page={n % 7}"
        out.append(Exchange(1.7e9 + n, "p-leader" if n % 2 else "p-visitor", "upstream" if n % 2 else "store",
                            "GET", url, 200, 200, 0, 18342, 12.5, 20.25, "text/html; charset=utf-8",
                            request_headers=BROWSER_HEADERS, response_headers=TARGET_HEADERS,
                            response_body=body, navigation=n % 10 == 0, redacted=("header:cookie",
                                                                                    "header:set-cookie")))
        if n % 10 == 0:
            out.append(event(1.7e9 + n, "p-leader", "navigation", url=url))
    return out


def write_trail(data_dir: Path, trail: list[Record]) -> None:
    keyring = new_keyring()
    key_file(data_dir).write_text(keyring.dump(), "utf-8")
    key_file(data_dir).chmod(0o600)
    (data_dir / "audit").mkdir(mode=0o700)
    head = Head()
    with open(data_dir / "audit" / f"{SESSION}.jsonl", "wb") as out:
        for record in trail:
            link = seal(keyring, SESSION, head, encode(record))
            head = link.head
            out.write(link.line())


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="exchanges in the trail")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body-bytes", type=int, default=0, help="response body kept per exchange")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        trail = records(args.records, args.body_bytes)
        write_trail(data_dir, trail)
        size = (data_dir / "audit" / f"{SESSION}.jsonl").stat().st_size
        print(f"trail: {len(trail)} records ({args.records} exchanges), {size / 1e6:.1f} MB sealed, "
              f"bodies {args.body_bytes} B; {args.rounds} rounds, medians")
        print("| format | seconds | records/s | output MB |")
        print("| --- | ---: | ---: | ---: |")
        for fmt in FORMATS:
            out = data_dir / f"export.{fmt}"
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                code = main(["audit", "export", SESSION, "--format", fmt, "-o", str(out), "--data-dir", tmp])
                times.append(time.perf_counter() - started)
                assert code == 0, f"export {fmt} exited {code}"
            median = statistics.median(times)
            print(f"| {fmt} | {median:.2f} | {len(trail) / median:,.0f} | {out.stat().st_size / 1e6:.1f} |")


if __name__ == "__main__":
    main_bench()
