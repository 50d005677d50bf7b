"""Where the audit keys come from: an environment variable, else a key file in the data dir.

- ``$COBROWSE_AUDIT_KEYS`` (read by ``proxy.config``): ``id:base64key`` entries separated by
  commas, the last one current. When it is set the key file is not used, and rotation is the
  operator's: add a new entry at the end and restart.
- else ``<data dir>/audit.keys``: made on first run with one new random AES-256 key, mode 0600
  (created exclusively, so two processes starting at once cannot both write it); a file other
  users may read is refused with the ``chmod`` that fixes it. ``cobrowse audit keys rotate``
  appends a new current key (the file is replaced atomically); old keys stay, so old records
  still open. A running server reads the file again when it changes (``WatchedKeys``: a stat at most
  once a second, from the writer's thread): records after a rotation are sealed with the new key,
  without a restart. A file it cannot read then (wrong mode, bad entry) is logged and the keys it
  had are kept: auditing never stops for it.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from sessions.audit_chain import Keyring, new_keyring

KEY_FILE = "audit.keys"
CHECK_EVERY = 1.0  # seconds between looks at the key file's stat
log = logging.getLogger("cobrowse.audit")


class KeySourceError(Exception):
    """The keys cannot be read or written as asked; the message says what to do."""


def key_file(data_dir: str | Path) -> Path:
    return Path(data_dir) / KEY_FILE


def load_keyring(data_dir: str | Path, env_keys: str = "", *, create: bool = True) -> Keyring:
    if env_keys:
        return Keyring.parse(env_keys)
    path = key_file(data_dir)
    if not path.exists():
        if not create:
            raise KeySourceError(f"no audit key file at {path} (and COBROWSE_AUDIT_KEYS is not set)")
        return _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeySourceError(f"{path} can be read by other users (mode {mode:o}): run chmod 600 {path}")
    return Keyring.parse(path.read_text("ascii"))


def _create(path: Path) -> Keyring:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    keyring = new_keyring()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Keyring.parse(path.read_text("ascii"))  # another process made it first
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(keyring.dump())
        f.flush()
        os.fsync(f.fileno())
    return keyring


def rotate(data_dir: str | Path, env_keys: str = "") -> Keyring:
    """Add a new current key to the key file; the keyring after rotation."""
    if env_keys:
        raise KeySourceError("the audit keys come from COBROWSE_AUDIT_KEYS: add a new 'id:base64key' entry at "
                             "its end (a 32-byte key, e.g. `head -c32 /dev/urandom | base64`) and restart")
    path = key_file(data_dir)
    rotated = load_keyring(data_dir, create=False).rotated()
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(rotated.dump())
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    return rotated


class WatchedKeys:
    """The keyring to seal with now: the environment's (fixed), else the key file's, read again
    when its stat (inode, size, mtime) changes. Call it; it is cheap between checks."""

    def __init__(self, data_dir: str | Path, env_keys: str = "", *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._path = None if env_keys else key_file(data_dir)
        self._keyring = load_keyring(data_dir, env_keys)
        self._clock = clock
        self._checked = clock()
        self._seen = self._signature()

    def __call__(self) -> Keyring:
        if self._path is None or self._clock() - self._checked < CHECK_EVERY:
            return self._keyring
        self._checked = self._clock()
        seen = self._signature()
        if seen != self._seen:
            self._seen = seen
            try:
                self._keyring = load_keyring(self._path.parent, create=False)
            except (OSError, ValueError, KeySourceError) as exc:
                log.error("audit.keys_unreadable path=%s: %s; still sealing with key %s", self._path, exc,
                          self._keyring.current)
            else:
                log.info("audit.keys_reloaded current=%s", self._keyring.current)
        return self._keyring

    def _signature(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns
