"""The embedded default's audit storage: one append-only file per session in a directory.

``<data dir>/audit/<session id>.jsonl``, one sealed link per line (``sessions.audit_chain``);
the directory is made 0700 and each file 0600. Appends are ``O_APPEND`` writes of whole lines
(a batch per session per call), done in a worker thread so the event loop never waits on the
disk. ``sync`` fsyncs every file written since the last sync (and the directory when a file
was created): the writer calls it at least once a second, so a machine crash loses at most the
last second; a killed process loses nothing that was written, since written lines are in the
kernel's page cache.

A cut-short last line (the process killed in the middle of a write) is set aside before the
chain goes on (``last_line``): its bytes move to ``<session id>.torn`` so the trail stays a
sequence of whole links. Session ids are checked (``sessions.ids.is_session_id``) before they
name a file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from sessions.ids import is_session_id

log = logging.getLogger("cobrowse.audit")
READ_BLOCK = 1 << 20
AUDIT_SUBDIR = "audit"


class DirectoryStore:
    def __init__(self, data_dir: str | Path) -> None:
        self.directory = Path(data_dir) / AUDIT_SUBDIR
        self._dirty: set[Path] = set()
        self._created = False

    def path(self, session_id: str) -> Path:
        if not is_session_id(session_id):
            raise ValueError(f"not a session id: {session_id!r}")
        return self.directory / f"{session_id}.jsonl"

    def session_ids(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.jsonl") if is_session_id(p.stem))

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        await asyncio.to_thread(self._append, {self.path(sid): b"".join(lines) for sid, lines in batch.items()})

    def _append(self, batch: Mapping[Path, bytes]) -> None:
        if not self.directory.is_dir():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path, data in batch.items():
            fresh = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            self._dirty.add(path)
            self._created |= fresh

    async def sync(self) -> None:
        paths, self._dirty = self._dirty, set()
        created, self._created = self._created, False
        if paths or created:
            await asyncio.to_thread(self._fsync, paths, created)

    def _fsync(self, paths: set[Path], created: bool) -> None:
        for path in [*paths, *([self.directory] if created else [])]:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    async def last_line(self, session_id: str) -> bytes | None:
        return await asyncio.to_thread(self._last_line, self.path(session_id))

    def _last_line(self, path: Path) -> bytes | None:
        if not path.exists():
            return None
        with open(path, "r+b") as f:
            size = f.seek(0, os.SEEK_END)
            tail = b""
            start = size
            while start > 0 and tail.count(b"\n") < 2:
                start = max(0, start - READ_BLOCK)
                f.seek(start)
                tail = f.read(size - start)
            if tail and not tail.endswith(b"\n"):
                whole = tail.rfind(b"\n") + 1
                torn = tail[whole:]
                path.with_suffix(".torn").write_bytes(torn)
                f.truncate(start + whole)
                log.warning("audit.torn_tail session=%s bytes=%d (set aside in %s)", path.stem, len(torn),
                            path.with_suffix(".torn").name)
                tail = tail[:whole]
            lines = tail.splitlines(keepends=True)
            return lines[-1] if lines else None

    async def read(self, session_id: str) -> AsyncIterator[bytes]:
        path = self.path(session_id)
        if not path.exists():
            return
        f = await asyncio.to_thread(open, path, "rb")
        try:
            rest = b""
            while True:
                block = await asyncio.to_thread(f.read, READ_BLOCK)
                if not block:
                    break
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    yield line + b"\n"
            if rest:
                yield rest
        finally:
            f.close()

    async def close(self) -> None:
        await self.sync()
