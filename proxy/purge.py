"""Forgetting ended sessions once their retention has passed: the periodic task and ``cobrowse purge``.

What an ended session leaves behind, and when it goes:
- its metadata in the session store (described by ``GET /api/v1/sessions/{id}`` and listed
  until then): dropped ``retention`` seconds after it ended (``SessionStore.purge``);
- its recorded responses: dropped at once when it ends, and here again for any a race left;
- its audit trail (``<data dir>/audit/<id>.jsonl`` and a set-aside ``<id>.torn``): removed once
  the trail has not been written for ``retention`` seconds. The last record of a trail is the
  session's end (or its last exchange), and no session lives longer than the server's maximum
  lifetime, so a trail quiet for the retention period belongs to a session long ended; one of a
  session the store still holds as live is kept whatever its age.

``purge_ctx`` runs the purge every ``PURGE_INTERVAL`` seconds inside the server;
``cobrowse purge`` runs the data directory's part from the command line (the in-memory store
lives only inside its server), says what it removed, and with ``--dry-run`` only what it would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from proxy.audit_files import AUDIT_SUBDIR
from proxy.config import config_default, default_data_dir
from proxy.keys import CONFIG, RESPONSES, STORE
from sessions.ids import is_session_id

PURGE_INTERVAL: Final = 60.0
TRAIL_SUFFIXES: Final = (".jsonl", ".torn")
_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
log = logging.getLogger("cobrowse.sessions")


@dataclass(frozen=True, slots=True)
class Removed:
    session_id: str
    path: Path
    size: int


def stale_trails(data_dir: str | Path, cutoff: float) -> list[Removed]:
    """Audit trail files not written since ``cutoff``."""
    directory = Path(data_dir) / AUDIT_SUBDIR
    if not directory.is_dir():
        return []
    found: list[Removed] = []
    for path in sorted(directory.iterdir()):
        sid, suffix = path.stem, path.suffix
        if suffix not in TRAIL_SUFFIXES or not is_session_id(sid):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if stat.st_mtime < cutoff:
            found.append(Removed(sid, path, stat.st_size))
    return found


def remove(found: list[Removed]) -> list[Removed]:
    """Delete ``found``; what was really removed (a file gone meanwhile is not counted)."""
    done: list[Removed] = []
    for item in found:
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()
            done.append(item)
    return done


async def purge_once(app: web.Application, now: float) -> tuple[tuple[str, ...], list[Removed]]:
    """One pass: the store's ended sessions and the data directory's trails past retention."""
    config = app[CONFIG]
    cutoff = now - config.retention
    forgotten = await app[STORE].purge(cutoff, now)
    await drop_ended_responses(app, now)
    trails: list[Removed] = []
    if config.data_dir:
        stale = await asyncio.to_thread(stale_trails, config.data_dir, cutoff)
        kept = [item for item in stale if not await _live(app, item.session_id, now)]
        trails = await asyncio.to_thread(remove, kept)
    if forgotten or trails:
        log.info("purge sessions=%d trails=%d", len(forgotten), len(trails))
    return forgotten, trails


async def _live(app: web.Application, session_id: str, now: float) -> bool:
    session = await app[STORE].get(session_id)
    return session is not None and session.is_live(now)


async def drop_ended_responses(app: web.Application, now: float | None = None) -> None:
    """Response stores of sessions that ended or are gone hold bodies nobody may fetch."""
    now = time.time() if now is None else now
    for sid in app[RESPONSES].session_ids():
        session = await app[STORE].get(sid)
        if session is None or not session.is_live(now):
            await app[RESPONSES].end(sid)


async def purge_ctx(app: web.Application) -> AsyncIterator[None]:
    """The periodic purge, for the server's life (a failed pass is logged, the next one runs)."""
    async def purge_forever() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL)
            try:
                await purge_once(app, time.time())
            except Exception:  # one bad pass must not end the purging for good
                log.exception("purge failed")

    task = asyncio.create_task(purge_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app[RESPONSES].close()


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s`` or plain seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write e.g. 30d, 12h, 90m or 3600")
    return float(match.group(1)) * _UNITS[match.group(2)]


def add_parser(commands: Any) -> None:
    retention = float(config_default("retention"))
    purge = commands.add_parser(
        "purge", help="remove ended sessions' records older than the retention period from a data directory",
        description="Remove what ended sessions left in a data directory once the retention period has "
                    "passed: each audit trail (audit/<session>.jsonl, and a set-aside .torn part) not written "
                    "for that long. A running server does the same every minute, and also forgets ended "
                    "sessions' metadata it holds in memory. Says what it removed.")
    purge.add_argument("--data-dir", default="", help="the server's data directory (default: as for serve: "
                                                      "$COBROWSE_DATA_DIR, else ~/.local/share/cobrowse)")
    purge.add_argument("--retention", type=parse_duration, default=retention, metavar="DURATION",
                       help=f"how long ended sessions' records are kept, e.g. 30d, 12h, 3600 "
                            f"(default {retention / 86400:g}d, as for serve)")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be removed")


def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    found = stale_trails(data_dir, time.time() - args.retention)
    done = found if args.dry_run else remove(found)
    verb = "would remove" if args.dry_run else "removed"
    for item in done:
        print(f"{verb} {item.path} (session {item.session_id}, {item.size} bytes)")
    sessions = len({item.session_id for item in done})
    print(f"cobrowse purge: {verb} {len(done)} file(s) of {sessions} ended session(s), "
          f"{sum(item.size for item in done)} bytes, from {Path(data_dir) / AUDIT_SUBDIR}", file=sys.stderr)
    return 0
