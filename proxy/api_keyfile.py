"""The API keys kept in the data dir: ``<data dir>/api-keys.json`` (``sessions.apikeys.KeyStore``).

- Written atomically (a temporary file, fsync, rename) with mode 0600, under an exclusive
  ``flock`` on ``api-keys.lock`` held across the read-modify-write, so ``cobrowse keys create``
  and a server noting last use cannot lose each other's change.
- ``ring()`` stats the file on every call and re-reads it when its identity (inode, size,
  mtime) changed: a running server sees keys created or revoked by the CLI on the next request,
  without a restart. A missing file is no keys. A file that cannot be read or parsed is no keys
  either (fail closed: a revoked key must not come back through a damaged file), logged once per
  change.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path

from sessions.apikeys import KeyRing

KEY_FILE = "api-keys.json"
LOCK_FILE = "api-keys.lock"
log = logging.getLogger("cobrowse.keys")

_Signature = tuple[int, int, int]


class FileKeyStore:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / KEY_FILE
        self._lock = Path(data_dir) / LOCK_FILE
        self._seen: _Signature | None = None
        self._ring = KeyRing()

    def ring(self) -> KeyRing:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._ring = None, KeyRing()
            return self._ring
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        if signature != self._seen:
            self._seen, self._ring = signature, self._read()
        return self._ring

    def update(self, change: Callable[[KeyRing], KeyRing]) -> KeyRing:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = self._read_strict() if self.path.exists() else KeyRing()
            changed = change(current)
            if changed is not current:
                self._write(changed)
            return changed
        finally:
            os.close(fd)  # closing drops the lock

    def _read(self) -> KeyRing:
        try:
            return self._read_strict()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("keys.unreadable path=%s error=%s: no API key but the server's own is accepted until it "
                      "is mended", self.path, exc)
            return KeyRing()

    def _read_strict(self) -> KeyRing:
        return KeyRing.parse(self.path.read_text("utf-8"))

    def _write(self, ring: KeyRing) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(ring.dump())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)
