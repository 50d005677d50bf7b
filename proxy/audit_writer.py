"""The audit trail's writer: records in from the hot path, sealed links out to the store.

``emit`` is what request handlers call: it never awaits and never blocks. It puts the record
on a bounded queue (``AuditSettings.queue``); one writer task takes records off in batches,
redacts them (``sessions.audit_redaction``), encodes and seals them into each session's chain
(``sessions.audit_chain``) in a worker thread, and appends them to the ``AuditStore``.

Overflow policy (the queue is full because the disk cannot keep up): the new record is not
queued, and that is never silent. It is counted (``counters()['dropped']``, reported by
``GET /healthz``), logged as ``audit.overflow`` (the first drop, then at most once per
``ALARM_EVERY`` seconds, with the totals), and the session's trail itself gets a ``lost`` event
with the number of records it lost as soon as the writer catches up, so a reader of the trail
sees the gap where it happened. The proxy is never slowed down to keep a record.

Durability: the writer appends as soon as it takes a batch (a killed process loses only what
was still queued, normally milliseconds of records) and asks the store to ``sync`` at least
every ``AuditSettings.flush_every`` seconds while anything is unsynced, so a machine crash
loses at most about the last second. A clean stop (``close``, from the app's cleanup) stops
taking records, drains the queue, syncs and returns: nothing emitted before it is lost.

Invariants: one writer task; it alone touches the chain heads (``_heads``) and the store's
append, so each session's links are appended in chain order; a head not known is read from
the store (``last_line``) before a session's first link is sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.config import config_default
from sessions.audit_chain import Head, Keyring, last_head, seal
from sessions.audit_record import Event, Record, encode, event
from sessions.audit_redaction import Redactor
from sessions.audit_store import AuditStore

log = logging.getLogger("cobrowse.audit")
BATCH = 512
ALARM_EVERY = 10.0


class AuditSink(Protocol):
    """What the proxy's handlers see of the audit trail."""

    def emit(self, session_id: str, record: Record) -> None: ...

    def counters(self) -> dict[str, Any]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class NoAudit:
    """The audit trail switched off (``--no-audit``, or no data directory)."""

    def emit(self, session_id: str, record: Record) -> None:
        return None

    def counters(self) -> dict[str, Any]:
        return {"enabled": False}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class AuditSettings:
    queue: int = config_default("audit_queue")  # declared once, in Config
    flush_every: float = 1.0


_STOP = object()


class AuditWriter:
    def __init__(self, store: AuditStore, keys: Keyring | Callable[[], Keyring], redactor: Redactor,
                 settings: AuditSettings | None = None) -> None:
        """``keys``: a keyring, or a callable answering the current one (``proxy.audit_keys.WatchedKeys``:
        a rotation takes effect on the next batch)."""
        self.store = store
        self._keys: Callable[[], Keyring] = keys if callable(keys) else (lambda: keys)
        self._redactor = redactor
        self._settings = settings or AuditSettings()
        self._queue: asyncio.Queue[tuple[str, Record] | object] = asyncio.Queue(self._settings.queue)
        self._heads: dict[str, Head] = {}
        self._lost: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._alarmed_at = -ALARM_EVERY
        self._counts = {"written": 0, "dropped": 0, "failed": 0, "syncs": 0, "max_queued": 0}

    def emit(self, session_id: str, record: Record) -> None:
        if self._closed:
            self._drop(session_id, "closed")
            return
        try:
            self._queue.put_nowait((session_id, record))
        except asyncio.QueueFull:
            self._drop(session_id, "queue full")
            return
        size = self._queue.qsize()
        if size > self._counts["max_queued"]:
            self._counts["max_queued"] = size

    @property
    def keyring(self) -> Keyring:
        """The keys the trails are sealed with now (an export opens them with the same; a rotation
        keeps the old keys, so older records still open)."""
        return self._keys()

    def counters(self) -> dict[str, Any]:
        return {"enabled": True, "queued": self._queue.qsize(), "capacity": self._settings.queue, **self._counts}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop taking records, write everything queued, sync."""
        if self._closed:
            return
        self._closed = True
        if self._task is None:
            return
        if not self._task.done():  # a writer that died (logged) would never take the stop
            await self._queue.put(_STOP)
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("audit.writer_failed")
        if self._queue.qsize():
            log.error("audit.unwritten records=%d: the writer stopped before the queue was empty",
                      self._queue.qsize())
        await self.store.close()

    def _drop(self, session_id: str, why: str) -> None:
        self._counts["dropped"] += 1
        self._lost[session_id] = self._lost.get(session_id, 0) + 1
        now = time.monotonic()
        if now - self._alarmed_at >= ALARM_EVERY:
            self._alarmed_at = now
            log.warning("audit.overflow reason=%s session=%s dropped_total=%d capacity=%d: records were not "
                        "kept; each trail will say how many it lost", why.replace(" ", "_"), session_id,
                        self._counts["dropped"], self._settings.queue)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        unsynced = False
        sync_at = loop.time() + self._settings.flush_every
        stop = False
        while not stop:
            item: object = None
            if unsynced:
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(self._queue.get(), max(0.0, sync_at - loop.time()))
            else:
                item = await self._queue.get()
            batch: list[tuple[str, Record]] = []
            while item is not None:
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
                item = self._queue.get_nowait() if len(batch) < BATCH and not self._queue.empty() else None
            batch.extend(self._loss_events())
            if batch:
                await self._write(batch)
                if not unsynced:
                    sync_at = loop.time() + self._settings.flush_every
                unsynced = True
            if unsynced and (stop or loop.time() >= sync_at):
                await self._sync()
                unsynced = False

    def _loss_events(self) -> list[tuple[str, Record]]:
        lost, self._lost = self._lost, {}
        now = time.time()
        return [(sid, event(now, "", "lost", count=str(n))) for sid, n in lost.items()]

    async def _write(self, batch: Sequence[tuple[str, Record]]) -> None:
        grouped: dict[str, list[Record]] = {}
        for sid, record in batch:
            grouped.setdefault(sid, []).append(record)
        try:
            for sid in grouped:
                if sid not in self._heads:
                    line = await self.store.last_line(sid)
                    self._heads[sid] = last_head(line) if line else Head()
            lines = await asyncio.to_thread(self._seal, grouped, self._keys)
            await self.store.append(lines)
        except Exception:
            log.exception("audit.write_failed records=%d sessions=%d", len(batch), len(grouped))
            self._counts["failed"] += len(batch)
            for sid in grouped:
                self._heads.pop(sid, None)  # read again from what the store holds
            return
        self._counts["written"] += len(batch)
        for sid, records in grouped.items():
            if any(isinstance(r, Event) and r.name == "ended" for r in records):
                self._heads.pop(sid, None)  # bounded memory: a later record reads the head back

    def _seal(self, grouped: Mapping[str, list[Record]], keys: Callable[[], Keyring]) -> dict[str, list[bytes]]:
        keyring = keys()  # once per batch, in the writer's thread (it may stat the key file)
        out: dict[str, list[bytes]] = {}
        for sid, records in grouped.items():
            head = self._heads[sid]
            lines = out[sid] = []
            for record in records:
                link = seal(keyring, sid, head, encode(self._redactor.record(record)))
                head = link.head
                lines.append(link.line())
            self._heads[sid] = head
        return out

    async def _sync(self) -> None:
        try:
            await self.store.sync()
            self._counts["syncs"] += 1
        except Exception:
            log.exception("audit.sync_failed")
