"""Exporting a session's audit trail: the formats, and the one walk every export makes.

``FORMATS`` is the table of what ``cobrowse audit export --format`` and ``GET
/api/v1/sessions/{id}/audit?format=`` accept: its name, media type, file suffix and the encoder
that turns records into bytes:

- ``jsonl``: one JSON object per record, in chain order: ``seq``, ``hash``, ``prev``, ``kid`` and
  the decrypted ``record`` (``sessions.audit_record.to_json``);
- ``har``: HAR 1.2 (``sessions.audit_har``), for browsers' devtools and HAR tools;
- ``mitmproxy``: a flow file written by mitmproxy's own writer (``proxy.audit_mitm``).

``Export`` walks the trail (``sessions.audit_chain.ChainReader``) and feeds each opened record
to the encoder; lines may come in batches (the CLI reads a file, the API the store's async
reader), so memory is bounded by a batch and what the encoder holds, never the whole trail. At
the first broken record the walk stops: what was exported before it has been handed out, and
``Broken`` names the record. Both the API and the CLI go through here, so they give the same
bytes for the same trail. A trail written by several server processes is several segments,
each its own chain (``proxy.audit_cli``): one export feeds them one after another, each opened
by its own reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

from proxy.audit_mitm import MitmStream
from sessions.audit_chain import ChainReader, Link
from sessions.audit_har import HarStream
from sessions.audit_record import Event, Record, decode, to_json


class Encoder(Protocol):
    def start(self) -> bytes: ...

    def push(self, link: Link, record: Record) -> bytes: ...

    def finish(self) -> bytes: ...


class JsonLines:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id

    def start(self) -> bytes:
        return b""

    def push(self, link: Link, record: Record) -> bytes:
        row = {"seq": link.seq, "hash": link.hash, "prev": link.prev, "kid": link.kid, "record": to_json(record)}
        return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    def finish(self) -> bytes:
        return b""


class Har:
    def __init__(self, session_id: str) -> None:
        self._stream = HarStream(session_id, _version())

    def start(self) -> bytes:
        return self._stream.start().encode("utf-8")

    def push(self, link: Link, record: Record) -> bytes:
        return self._stream.push(link.seq, link.hash, record).encode("utf-8")

    def finish(self) -> bytes:
        return self._stream.finish().encode("utf-8")


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str
    media_type: str
    suffix: str
    encoder: Callable[[str], Encoder]  # from the session id
    help: str


FORMATS: Mapping[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("jsonl", "application/x-ndjson", "jsonl", JsonLines,
                 "one JSON object per record with its chain hashes (seq, hash, prev, kid, record)"),
    ExportFormat("har", "application/json", "har", Har,
                 "HAR 1.2 for devtools' HAR import and HAR tools; participant and path in _participant/_path, "
                 "session events in _events"),
    ExportFormat("mitmproxy", "application/octet-stream", "mitm", MitmStream,
                 "a mitmproxy flow file (mitmproxy -r / mitmweb -r); participant, path and events in "
                 "flow.metadata['cobrowse']"),
)}


def unknown_format(name: str) -> str:
    return f"unknown export format {name!r}: use one of {', '.join(FORMATS)} (e.g. format=har)"


@dataclass(slots=True)
class Export:
    reader: ChainReader
    encoder: Encoder
    records: int = 0
    ended: bool = False  # whether the last record read is the session's 'ended' event

    @classmethod
    def of(cls, reader: ChainReader, fmt: str) -> Export:
        return cls(reader, FORMATS[fmt].encoder(reader.session_id))

    def start(self) -> bytes:
        return self.encoder.start()

    def feed(self, lines: Iterable[bytes], out: list[bytes], reader: ChainReader | None = None) -> None:
        """Open the next lines of the trail (of another segment's chain with its ``reader``),
        appending their export to ``out``; raises ``Broken`` at a broken record, after appending
        everything before it."""
        for opened in (reader or self.reader).read(lines):
            record = decode(opened.plaintext)
            self.records += 1
            self.ended = isinstance(record, Event) and record.name == "ended"
            chunk = self.encoder.push(opened.link, record)
            if chunk:
                out.append(chunk)

    def finish(self) -> bytes:
        return self.encoder.finish()


def _version() -> str:
    try:
        return metadata.version("cobrowse")
    except metadata.PackageNotFoundError:
        return "0"
