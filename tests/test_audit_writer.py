"""The audit writer and its storage seam, on real files.

- The ``AuditStore`` contract, run against every backend (the directory store today; a Redis
  backend joins ``BACKENDS``): lines appended in order, the last whole line after a cut-short
  one is set aside, reading back what was written.
- The writer: a clean ``close`` writes everything emitted before it; ``emit`` never waits, and
  when the queue is full the records are dropped, counted and recorded in the session's own
  trail as a ``lost`` event, never silently; the chain it writes verifies; a second writer goes
  on from the chain's head on disk.

The store that holds its appends back is a stand-in at the declared seam (``AuditStore``),
wrapping the real directory store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

import pytest

from proxy.audit_files import DirectoryStore
from proxy.audit_writer import AuditSettings, AuditWriter
from sessions.audit_chain import ChainReader, Keyring, new_keyring
from sessions.audit_record import Event, Exchange, Record, decode, event
from sessions.audit_redaction import Redactor
from sessions.audit_store import AuditStore

SID = "abcdefgh23"
OTHER = "bcdefgh234"
BACKENDS: dict[str, Callable[[Path], AuditStore]] = {"directory": DirectoryStore}


async def lines_of(store: AuditStore, sid: str) -> list[bytes]:
    return [line async for line in store.read(sid)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_store_appends_in_order_and_reads_back(backend: str, tmp_path: Path) -> None:
    store = BACKENDS[backend](tmp_path)
    await store.append({SID: [b"a\n", b"b\n"], OTHER: [b"x\n"]})
    await store.append({SID: [b"c\n"]})
    await store.sync()
    assert await lines_of(store, SID) == [b"a\n", b"b\n", b"c\n"]
    assert await lines_of(store, OTHER) == [b"x\n"]
    assert await store.last_line(SID) == b"c\n"
    assert await store.last_line("cdefgh2345") is None
    await store.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_store_sets_a_cut_short_last_line_aside(backend: str, tmp_path: Path) -> None:
    store = BACKENDS[backend](tmp_path)
    await store.append({SID: [b"a\n", b"b\n", b"half-writ"]})
    assert await store.last_line(SID) == b"b\n"
    await store.append({SID: [b"c\n"]})
    assert await lines_of(store, SID) == [b"a\n", b"b\n", b"c\n"]


def test_directory_store_files_are_private_and_named_by_session_id(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    asyncio.run(store.append({SID: [b"a\n"]}))
    assert store.path(SID).stat().st_mode & 0o777 == 0o600
    assert store.directory.stat().st_mode & 0o777 == 0o700
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


class HeldStore:
    """The directory store, with appends held until ``release`` (a disk that cannot keep up)."""

    def __init__(self, inner: DirectoryStore) -> None:
        self.inner = inner
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        self.waiting.set()
        await self.release.wait()
        await self.inner.append(batch)

    async def sync(self) -> None:
        await self.inner.sync()

    async def last_line(self, session_id: str) -> bytes | None:
        return await self.inner.last_line(session_id)

    def read(self, session_id: str) -> AsyncIterator[bytes]:
        return self.inner.read(session_id)

    async def close(self) -> None:
        await self.inner.close()


def exchange(n: int) -> Exchange:
    return Exchange(float(n), "p1", "upstream", "GET", f"http://a.test/{n}", 200)


async def records_on_file(store: DirectoryStore, keyring: Keyring, sid: str = SID) -> list[Record]:
    reader = ChainReader(keyring, sid)
    return [decode(o.plaintext) for o in reader.read(await lines_of(store, sid))]


async def test_clean_close_writes_everything_emitted_before_it(tmp_path: Path) -> None:
    keyring, store = new_keyring(), DirectoryStore(tmp_path)
    writer = AuditWriter(store, keyring, Redactor())
    await writer.start()
    for n in range(300):
        writer.emit(SID, exchange(n))
    await writer.close()
    records = await records_on_file(store, keyring)
    assert [r.url for r in records if isinstance(r, Exchange)] == [f"http://a.test/{n}" for n in range(300)]
    assert writer.counters()["written"] == 300 and writer.counters()["dropped"] == 0


async def test_full_queue_drops_are_counted_and_the_trail_says_how_many(tmp_path: Path) -> None:
    keyring, inner = new_keyring(), DirectoryStore(tmp_path)
    held = HeldStore(inner)
    writer = AuditWriter(held, keyring, Redactor(), AuditSettings(queue=5))
    await writer.start()
    writer.emit(SID, exchange(0))
    await held.waiting.wait()  # the writer holds record 0 and waits on the disk
    for n in range(1, 21):
        writer.emit(SID, exchange(n))  # returns at once: 5 are queued, 15 are dropped
    assert writer.counters()["dropped"] == 15 and writer.counters()["queued"] == 5
    held.release.set()
    await writer.close()
    records = await records_on_file(inner, keyring)
    kept = [r.url for r in records if isinstance(r, Exchange)]
    assert kept == [f"http://a.test/{n}" for n in range(6)]
    lost = [r for r in records if isinstance(r, Event) and r.name == "lost"]
    assert [r.get("count") for r in lost] == ["15"]


async def test_a_new_writer_goes_on_from_the_chain_on_disk(tmp_path: Path) -> None:
    keyring, store = new_keyring(), DirectoryStore(tmp_path)
    for batch in (range(3), range(3, 5)):
        writer = AuditWriter(DirectoryStore(tmp_path), keyring, Redactor())
        await writer.start()
        for n in batch:
            writer.emit(SID, exchange(n))
        writer.emit(SID, event(9.0, "", "ended", by="api"))
        await writer.close()
    records = await records_on_file(store, keyring)
    assert len(records) == 7 and isinstance(records[-1], Event)


async def test_emit_after_close_is_counted_not_lost_silently(tmp_path: Path) -> None:
    writer = AuditWriter(DirectoryStore(tmp_path), new_keyring(), Redactor())
    await writer.start()
    await writer.close()
    writer.emit(SID, exchange(1))
    assert writer.counters()["dropped"] == 1
