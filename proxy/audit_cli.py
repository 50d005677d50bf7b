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
``$COBROWSE_AUDIT_KEYS`` when it is set.

Several server processes (docs/scale-out.md): each writes the records of the exchanges and
events it served into its own data dir, as one *segment* of the session's trail with a chain of
its own (two writers appending to one chain would fork it). The trail is the set of segments:
give each process's data dir (``--data-dir A --data-dir B``, a copy of each collected as logs
are). ``verify`` checks every segment's chain and names the segment of a break; ``export``
writes the segments one after another (each a whole chain, the one whose first record is
oldest first), each opened with the keys of its own data dir. A progress bar is drawn on a terminal for long runs,
never into the records (``proxy.progress``). Exports do not add an ``exported`` event to the
trail: a running server may be appending to it (the API's export does, through the writer).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
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
    data_dir.add_argument("--data-dir", action="append", default=[],
                          help="the server's data directory (default: as for serve: $COBROWSE_DATA_DIR, else "
                               "~/.local/share/cobrowse); give it once per server process to read a trail "
                               "written by several")
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


@dataclass(frozen=True, slots=True)
class Segment:
    """The part of a session's trail one server process wrote: its file and the reader of its chain."""

    data_dir: str
    path: Path
    reader: ChainReader


def run(args: argparse.Namespace) -> int:
    data_dirs = args.data_dir or [default_data_dir()]
    if args.audit_command == "keys":
        return _rotate(data_dirs[0])
    if not is_session_id(args.session):
        print(f"cobrowse audit: {args.session!r} is not a session id", file=sys.stderr)
        return 2
    try:
        segments = _segments(data_dirs, args.session)
    except (KeySourceError, KeyringError, OSError) as exc:
        print(f"cobrowse audit: cannot read the audit keys: {exc}", file=sys.stderr)
        return 2
    if not segments:
        where = ", ".join(str(DirectoryStore(d).directory) for d in data_dirs)
        print(f"cobrowse audit: no audit trail for session {args.session} in {where}", file=sys.stderr)
        return 2
    if args.audit_command == "verify":
        return max(_verify(segment, len(segments) > 1) for segment in segments)
    if args.output == "-":
        return _export(segments, args.format, sys.stdout.buffer, show_progress=False)
    with open(args.output, "wb") as out:
        return _export(segments, args.format, out, show_progress=True)


def _segments(data_dirs: list[str], session_id: str) -> list[Segment]:
    """The session's segments in the data dirs, the one whose first record is oldest first."""
    found = []
    for data_dir in dict.fromkeys(data_dirs):
        path = DirectoryStore(data_dir).path(session_id)
        if path.exists():
            keyring = load_keyring(data_dir, env_audit_keys(), create=False)
            found.append(Segment(data_dir, path, ChainReader(keyring, session_id)))
    return sorted(found, key=_first_time)


def _first_time(segment: Segment) -> float:
    """When the segment's first record was made (a segment that does not open goes last: its
    export stops at its break anyway)."""
    with open(segment.path, "rb") as lines:
        first = next(iter(lines), b"")
    try:
        opened = next(ChainReader(segment.reader.keyring, segment.reader.session_id).read([first]))
        return decode(opened.plaintext).time
    except (Broken, StopIteration):
        return float("inf")


def _walk(segment: Segment, label: str, show: bool,
          each: Callable[[Opened], None]) -> tuple[int, Broken | None, bool]:
    """Open every record, calling ``each``; (records, the break if any, whether the last was ``ended``)."""
    reader = segment.reader
    progress = Progress(sys.stdout, segment.path.stat().st_size, label, enabled=show)
    count, done, ended = 0, 0, False
    try:
        with open(segment.path, "rb") as lines:
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


def _verify(segment: Segment, named: bool) -> int:
    reader = segment.reader
    sid = reader.session_id + (f" (the segment in {segment.data_dir})" if named else "")
    count, broken, ended = _walk(segment, "verifying", True, lambda _: None)
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


def _export(segments: list[Segment], fmt: str, out: BinaryIO, *, show_progress: bool) -> int:
    export = Export.of(segments[0].reader, fmt)
    progress = Progress(sys.stdout, sum(s.path.stat().st_size for s in segments), "exporting",
                        enabled=show_progress)
    done = 0
    out.write(export.start())
    try:
        for segment in segments:
            with open(segment.path, "rb") as lines:
                while batch := list(islice(lines, BATCH)):
                    chunks: list[bytes] = []
                    try:
                        export.feed(batch, chunks, segment.reader)
                    finally:
                        out.writelines(chunks)
                    done += sum(map(len, batch))
                    progress.update(done, export.records)
    except Broken as broken:
        out.write(export.finish())
        where = f" (the segment in {segment.data_dir})" if len(segments) > 1 else ""
        print(f"cobrowse audit: the trail is broken at {broken}{where}; the records before it were exported",
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
