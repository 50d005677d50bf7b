"""Cost of the audit trail: proxy requests/s and p50/p99 latency with the trail off, metadata
only, and with bodies.

Run from the repository root:  python bench/bench_audit.py [--seconds 5] [--rounds 5] [--conc 16]
[--bodies 65536]

Five processes: the target (``bench_proxy.TARGET``: a 100-byte and a 200 KB asset), three
cobrowse servers (``off``: ``--no-audit``; ``meta``: writing its trail into a temporary data dir,
metadata only; ``bodies``: the same with ``--audit-bodies BYTES``) and this load generator. Each
round drives ``--conc`` keep-alive connections for ``--seconds`` through each server in turn, with
a leader's participant cookie, so all are measured in the same run on the same machine. Figures
are medians over the rounds; bytes on disk per proxied request is each trail's size over the
exchanges in it (read back with ``cobrowse audit export``).

``--cpu`` also times, in this process (CPU time, median of 5 rounds of 5000 records), what one
record costs: on the hot path (``Trace`` bookkeeping and ``AuditWriter.emit``) and in the
writer (redact, encode, seal: AES-GCM and SHA-256). On a loaded shared machine these are the
steadier figures: the load figures move with whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_proxy import ASSETS, ROOT, TARGET, compare, free_port, open_session, stop, wait_port

MODES = ("off", "meta", "bodies")
AUDITED = ("meta", "bodies")


async def measure(args: argparse.Namespace, target_port: int, ports: dict[str, int]) -> dict[str, str]:
    """The load figures; the session id each server's session got."""
    await wait_port(target_port)
    sessions = {}
    for mode, port in ports.items():
        await wait_port(port)
        sessions[mode] = await open_session(port)
    summary = await compare(args, lambda asset: {
        mode: (f"http://127.0.0.1:{ports[mode]}/{asset}", *sessions[mode]) for mode in MODES}, "audit")
    for asset in ASSETS:
        for mode in AUDITED:
            ratio = summary[f"{asset}/{mode}"]["rps"] / summary[f"{asset}/off"]["rps"]
            print(f"{asset}: throughput with the audit trail ({mode}) = {ratio:.2f} x without")
    print(json.dumps(summary))
    return {mode: host.split("--", 1)[1].split("-", 1)[0] for mode, (host, _) in sessions.items()}


def bytes_per_request(mode: str, data_dir: str, sid: str) -> None:
    trail = Path(data_dir) / "audit" / f"{sid}.jsonl"
    export = Path(data_dir) / "export.jsonl"
    subprocess.run([sys.executable, "-m", "proxy.cli", "audit", "export", sid, "--data-dir", data_dir,
                    "-o", str(export)], cwd=ROOT, check=True)
    records = [json.loads(line)["record"] for line in export.read_text().splitlines()]
    exchanges = sum(1 for r in records if r["kind"] == "exchange")
    size = trail.stat().st_size
    print(f"trail ({mode}): {size} bytes, {len(records)} records ({exchanges} exchanges): "
          f"{size / max(1, exchanges):.0f} bytes on disk per proxied request")


def cpu_per_record() -> None:
    sys.path.insert(0, str(ROOT))
    from proxy.audit_files import DirectoryStore
    from proxy.audit_writer import AuditSettings, AuditWriter
    from sessions.audit_chain import Head, new_keyring, seal
    from sessions.audit_record import Exchange, encode
    from sessions.audit_redaction import Redactor

    browser = (("Host", "shop.example"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"),
               ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
               ("Accept-Language", "en-GB,en;q=0.9"), ("Accept-Encoding", "gzip, deflate, br"),
               ("Referer", "https://shop.example/cart?step=2"), ("Sec-Fetch-Dest", "document"),
               ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Site", "same-origin"),
               ("Cookie", "session=4f9d2c0e8a7b6c5d; cart=17; consent=yes"))
    target = (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "18342"),
              ("Cache-Control", "private, max-age=0"), ("Set-Cookie", "session=4f9d2c0e8a7b6c5d; HttpOnly; Path=/"),
              ("Date", "Thu, 03 Dec 2026 14:00:00 GMT"), ("Server", "nginx"), ("Vary", "Accept-Encoding"))
    record = Exchange(time.time(), "p0123456789ab", "upstream", "GET", "https://shop.example/product/42?ref=home",
                      200, target_status=200, response_bytes=18342, wait_ms=12.5, total_ms=14.0,
                      content_type="text/html; charset=utf-8", request_headers=browser, response_headers=target,
                      navigation=True)
    keyring, redactor, n = new_keyring(), Redactor(), 5000

    def timed(step: object) -> float:
        rounds = []
        for _ in range(5):
            start = time.process_time()
            step()  # type: ignore[operator]
            rounds.append((time.process_time() - start) / n * 1e6)
        return statistics.median(rounds)

    def writer_side() -> None:
        head = Head()
        for _ in range(n):
            head = seal(keyring, "abcdefgh23", head, encode(redactor.record(record))).head

    store = DirectoryStore(tempfile.mkdtemp())

    def hot_side() -> None:
        writer = AuditWriter(store, keyring, redactor, AuditSettings(queue=n))  # not started: only queues
        for _ in range(n):
            writer.emit("abcdefgh23", record)

    async def hot() -> float:
        return timed(hot_side)

    print(f"per record, CPU: emit on the hot path {asyncio.run(hot()):.2f} us; "
          f"writer (redact + encode + AES-GCM + SHA-256) {timed(writer_side):.1f} us; "
          f"sealed line {len(seal(keyring, 'abcdefgh23', Head(), encode(redactor.record(record))).line())} bytes")

    # With a 64 KiB response body: the tee and body redaction run on the hot path (in Trace.finish),
    # the writer then seals the bigger record.
    from dataclasses import replace

    from proxy.audit_tee import kept
    from sessions.audit_bodies import BodyRules

    page = (b"<!doctype html><form><input name=q value=shoes><input name=password></form>" * 1000)[:64 * 1024]
    rules, n = BodyRules(), 500
    with_body = replace(record, response_body=page)

    def body_side() -> None:
        for _ in range(n):
            rules.redact(kept(page, 64 * 1024)[0], "text/html; charset=utf-8", ("card",), set())

    def writer_body_side() -> None:
        head = Head()
        for _ in range(n):
            head = seal(keyring, "abcdefgh23", head, encode(redactor.record(with_body))).head

    print(f"per record with a 64 KiB body, CPU: tee + body redaction on the hot path {timed(body_side):.1f} us; "
          f"writer {timed(writer_body_side):.1f} us; "
          f"sealed line {len(seal(keyring, 'abcdefgh23', Head(), encode(redactor.record(with_body))).line())} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conc", type=int, default=16)
    parser.add_argument("--bodies", type=int, default=64 * 1024, help="--audit-bodies of the 'bodies' server")
    parser.add_argument("--cpu", action="store_true", help="also time one record's CPU cost in this process")
    args = parser.parse_args()
    if args.cpu:
        cpu_per_record()

    data_dirs = {mode: tempfile.mkdtemp(prefix=f"cobrowse-bench-audit-{mode}-") for mode in AUDITED}
    target_port = free_port()
    ports = {mode: free_port() for mode in MODES}
    env = {**{k: v for k, v in os.environ.items() if k != "COBROWSE_AUDIT_KEYS"}, "COBROWSE_API_KEY": "bench-key"}
    resolve = ["--resolve", f"bench.test:80=127.0.0.1:{target_port}", "--log-level", "warning"]
    procs = [
        subprocess.Popen([sys.executable, "-c", TARGET, str(target_port)]),
        subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--port", str(ports["off"]), "--no-audit",
                          *resolve], cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
        *(subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--port", str(ports[mode]), "--data-dir",
                            data_dirs[mode], "--audit-bodies", str(args.bodies if mode == "bodies" else 0), *resolve],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL) for mode in AUDITED),
    ]
    try:
        sids = asyncio.run(measure(args, target_port, ports))
    finally:
        stop(procs, timeout=30)  # the audited server drains its queue before it exits
    for mode in AUDITED:
        bytes_per_request(mode, data_dirs[mode], sids[mode])
        shutil.rmtree(data_dirs[mode], ignore_errors=True)


if __name__ == "__main__":
    main()
