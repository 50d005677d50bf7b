"""``cobrowse audit``: verify and export a session's trail, rotate the audit keys.

- ``cobrowse audit verify SESSION``: walks the chain (``sessions.audit_chain.ChainReader``);
  exit 0 when every record holds (a cut-short last line left by a crash is reported, not a
  failure), 1 naming the first broken record and what is wrong with it, 2 when there is no
  trail or no key to read it.
- ``cobrowse audit export SESSION --format jsonl|har|mitmproxy [-o FILE]``: the decrypted
  records in chain order, in one of the formats of ``proxy.audit_export`` (JSON lines with the
  chain hashes, HAR 1.2, a mitmproxy flow file); stops with exit 1 at a broken record, after
  writing the ones before it (a HAR or flow file still well formed).
- ``cobrowse audit keys rotate``: a new current key in the data dir's key file
  (``proxy.audit_keys``).

The trail and the key file are read from ``--data-dir`` (default as for ``serve``); keys from
``$COBROWSE_AUDIT_KEYS`` when it is set. A progress bar is drawn on a terminal for long runs,
never into the records (``proxy.progress``). Exports do not add an ``exported`` event to the
trail: a running server may be appending to it (the API's export does, through the writer).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from itertools import islice
from typing import Any, BinaryIO

from proxy.audit_export import FORMATS, Export
from proxy.audit_files import DirectoryStore
from proxy.audit_keys import KeySourceError, key_file, load_keyring, rotate
from proxy.config import default_data_dir, env_audit_keys
from proxy.progress import Progress
from sessions.audit_chain import Broken, ChainReader, KeyringError, Opened
from sessions.audit_record import Event, decode
from sessions.ids import is_session_id

BATCH = 1024  # lines read and exported at a time


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="verify or export a session's audit trail; rotate audit keys",
                                description="Work with the encrypted, hash-chained audit trail that "
                                            "`cobrowse serve` writes into its data directory.")
    verbs = audit.add_subparsers(dest="audit_command", required=True)
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", default="", help="the server's data directory (default: as for serve: "
                                                         "$COBROWSE_DATA_DIR, else ~/.local/share/cobrowse)")
    verify = verbs.add_parser("verify", parents=[data_dir], help="check a session's trail; name the first broken "
                                                                 "record")
    verify.add_argument("session", help="the session id")
    export = verbs.add_parser("export", parents=[data_dir], help="write a session's decrypted records",
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Write a session's decrypted records in chain order. Formats:\n"
                                          + "".join(f"  {f.name}: {f.help}\n" for f in FORMATS.values())
                                          + "The same exports come from GET /api/v1/sessions/{id}/audit?format=...")
    export.add_argument("session", help="the session id")
    export.add_argument("--format", choices=list(FORMATS), default="jsonl",
                        help="jsonl (default), har or mitmproxy: see above")
    export.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    keys = verbs.add_parser("keys", help="manage the audit keys")
    key_verbs = keys.add_subparsers(dest="keys_command", required=True)
    key_verbs.add_parser("rotate", parents=[data_dir], help="add a new current key; old records still open")


def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    if args.audit_command == "keys":
        return _rotate(data_dir)
    if not is_session_id(args.session):
        print(f"cobrowse audit: {args.session!r} is not a session id", file=sys.stderr)
        return 2
    store = DirectoryStore(data_dir)
    if not store.path(args.session).exists():
        print(f"cobrowse audit: no audit trail for session {args.session} in {store.directory}", file=sys.stderr)
        return 2
    try:
        keyring = load_keyring(data_dir, env_audit_keys(), create=False)
    except (KeySourceError, KeyringError, OSError) as exc:
        print(f"cobrowse audit: cannot read the audit keys: {exc}", file=sys.stderr)
        return 2
    reader = ChainReader(keyring, args.session)
    if args.audit_command == "verify":
        return _verify(store, reader)
    if args.output == "-":
        return _export(store, reader, args.format, sys.stdout.buffer, show_progress=False)
    with open(args.output, "wb") as out:
        return _export(store, reader, args.format, out, show_progress=True)


def _walk(store: DirectoryStore, reader: ChainReader, label: str, show: bool,
                each: Callable[[Opened], None]) -> tuple[int, Broken | None, bool]:
    """Open every record, calling ``each``; (records, the break if any, whether the last was ``ended``)."""
    progress = Progress(sys.stdout, store.path(reader.session_id).stat().st_size, label, enabled=show)
    count, done, ended = 0, 0, False
    try:
        with open(store.path(reader.session_id), "rb") as lines:
            for opened in reader.read(lines):
                count += 1
                done += len(opened.link.line())
                record = decode(opened.plaintext)
                ended = isinstance(record, Event) and record.name == "ended"
                each(opened)
                progress.update(done, count)
    except Broken as broken:
        return count, broken, ended
    finally:
        progress.close()
    return count, None, ended


def _verify(store: DirectoryStore, reader: ChainReader) -> int:
    sid = reader.session_id
    count, broken, ended = _walk(store, reader, "verifying", True, lambda _: None)
    if broken is not None:
        print(f"session {sid}: BROKEN at {broken}")
        print(f"  records 1-{reader.head.seq} verify" if reader.head.seq else "  no record before it verifies")
        return 1
    print(f"session {sid}: {count} records verified, chain intact; last record {reader.head.seq} "
          f"(hash {reader.head.hash[:16]}...), {'session ended' if ended else 'session not ended in the trail'}")
    if reader.torn:
        print(f"  a cut-short line follows record {reader.head.seq} (the server stopped while writing it): "
              "not part of the chain")
    return 0


def _export(store: DirectoryStore, reader: ChainReader, fmt: str, out: BinaryIO, *, show_progress: bool) -> int:
    path = store.path(reader.session_id)
    export = Export.of(reader, fmt)
    progress = Progress(sys.stdout, path.stat().st_size, "exporting", enabled=show_progress)
    done = 0
    out.write(export.start())
    try:
        with open(path, "rb") as lines:
            while batch := list(islice(lines, BATCH)):
                chunks: list[bytes] = []
                try:
                    export.feed(batch, chunks)
                finally:
                    out.writelines(chunks)
                done += sum(map(len, batch))
                progress.update(done, export.records)
    except Broken as broken:
        out.write(export.finish())
        print(f"cobrowse audit: the trail is broken at {broken}; the records before it were exported",
              file=sys.stderr)
        return 1
    finally:
        progress.close()
    out.write(export.finish())
    return 0


def _rotate(data_dir: str) -> int:
    try:
        keyring = rotate(data_dir, env_audit_keys())
    except (KeySourceError, KeyringError, OSError) as exc:
        print(f"cobrowse audit keys rotate: {exc}", file=sys.stderr)
        return 2
    print(f"audit key {keyring.current} is now current in {key_file(data_dir)} (keys: {', '.join(keyring.keys)}); "
          "a running server seals new records with it within a second (no restart)")
    return 0
