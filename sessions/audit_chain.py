"""The audit trail's seal: each record encrypted (AES-GCM) and linked into a hash chain.

A session's trail is a sequence of links, one per record, numbered from 1. Link ``n`` holds:

- ``kid``: the id of the key it was encrypted with (``Keyring``: several keys by id, one
  current; rotating adds a new current key and older links still open);
- ``nonce`` and ``ct``: AES-256-GCM of the record's canonical bytes, with associated data
  binding the session id, ``n``, ``kid`` and ``prev`` (a link moved to another session or
  position, or re-chained, fails authentication);
- ``prev``: the hash of link ``n - 1`` (``GENESIS`` for the first);
- ``hash``: SHA-256 over ``n``, ``kid``, ``prev``, ``nonce`` and ``ct``.

So a changed byte breaks that link's hash (or its authentication), a removed, inserted or
swapped link breaks the numbering and the ``prev`` of the link after it, and none of it can be
repaired without the key. ``ChainReader`` walks a trail and stops at the first broken link,
naming it (its line, its number) and what is wrong (``Broken``). A cut-short last line (a
crash while writing) is not a broken chain: the reader stops before it and says so
(``ChainReader.torn``). What a chain cannot show by itself is a trail cut at a record
boundary: its last record says where it ends (an ``ended`` event closes a finished session).

Pure: no I/O; randomness only for nonces and new keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

GENESIS = "0" * 64
KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"cobrowse-audit-v1\0"
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class KeyringError(ValueError):
    """A keyring that cannot be used (bad id, bad key, no current key)."""


@dataclass(frozen=True, slots=True)
class Keyring:
    """Audit keys by id; ``current`` seals new links, every key opens old ones."""

    keys: Mapping[str, bytes]
    current: str
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, init=False, repr=False, compare=False)

    def cipher(self, kid: str) -> AESGCM:
        """The AES-GCM object of key ``kid``, made once (its key schedule is not free)."""
        made = self._ciphers.get(kid)
        if made is None:
            made = self._ciphers[kid] = AESGCM(self.keys[kid])
        return made

    def __post_init__(self) -> None:
        for kid, key in self.keys.items():
            if not _KID.fullmatch(kid):
                raise KeyringError(f"audit key id {kid!r}: use 1-32 letters, digits, '-' or '_'")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"audit key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        if self.current not in self.keys:
            raise KeyringError("no current audit key")

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """``kid:base64key`` entries, one per line or separated by commas; the last is current."""
        keys: dict[str, bytes] = {}
        last = ""
        for entry in re.split(r"[,\n]", text):
            entry = entry.strip()
            if not entry or entry.startswith("#"):
                continue
            kid, sep, encoded = entry.partition(":")
            if not sep:
                raise KeyringError("audit keys are written 'id:base64key', e.g. k1:3q2+7w...")
            try:
                keys[kid.strip()] = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error as exc:
                raise KeyringError(f"audit key {kid.strip()!r} is not base64") from exc
            last = kid.strip()
        return cls(keys, last)

    def dump(self) -> str:
        """The key file's text (``parse`` reads it back; the current key last)."""
        order = [k for k in self.keys if k != self.current] + [self.current]
        return "".join(f"{kid}:{base64.b64encode(self.keys[kid]).decode('ascii')}\n" for kid in order)

    def rotated(self) -> Keyring:
        """A new current key with the next free id ``k<n>``; the old keys stay."""
        n = len(self.keys) + 1
        while f"k{n}" in self.keys:
            n += 1
        return Keyring({**self.keys, f"k{n}": new_key()}, f"k{n}")


def new_key() -> bytes:
    return AESGCM.generate_key(KEY_BYTES * 8)


def new_keyring() -> Keyring:
    return Keyring({"k1": new_key()}, "k1")


@dataclass(frozen=True, slots=True)
class Head:
    """Where a chain stands: the last link's number and hash."""

    seq: int = 0
    hash: str = GENESIS


@dataclass(frozen=True, slots=True)
class Link:
    seq: int
    kid: str
    prev: str
    nonce: bytes
    ct: bytes
    hash: str

    def line(self) -> bytes:
        """The stored form: one JSON object and a newline."""
        data = {"seq": self.seq, "kid": self.kid, "prev": self.prev, "hash": self.hash,
                "nonce": base64.b64encode(self.nonce).decode("ascii"),
                "ct": base64.b64encode(self.ct).decode("ascii")}
        return json.dumps(data, separators=(",", ":")).encode("ascii") + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> Link:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        seq, kid, prev, digest = data["seq"], data["kid"], data["prev"], data["hash"]
        if not (isinstance(seq, int) and isinstance(kid, str) and isinstance(prev, str) and isinstance(digest, str)):
            raise ValueError("fields of the wrong type")
        return cls(seq, kid, prev, base64.b64decode(data["nonce"], validate=True),
                   base64.b64decode(data["ct"], validate=True), digest)

    def computed_hash(self) -> str:
        return link_hash(self.seq, self.kid, self.prev, self.nonce, self.ct)

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)


def link_hash(seq: int, kid: str, prev: str, nonce: bytes, ct: bytes) -> str:
    return hashlib.sha256(_VERSION + f"{seq}\0{kid}\0{prev}\0".encode("ascii") + nonce + ct).hexdigest()


def _associated(session_id: str, seq: int, kid: str, prev: str) -> bytes:
    return _VERSION + f"{session_id}\0{seq}\0{kid}\0{prev}".encode("ascii")


def seal(keyring: Keyring, session_id: str, head: Head, plaintext: bytes, nonce: bytes | None = None) -> Link:
    """The link after ``head`` holding ``plaintext``, sealed with the current key."""
    seq, kid = head.seq + 1, keyring.current
    nonce = nonce if nonce is not None else secrets.token_bytes(NONCE_BYTES)
    ct = keyring.cipher(kid).encrypt(nonce, plaintext, _associated(session_id, seq, kid, head.hash))
    return Link(seq, kid, head.hash, nonce, ct, link_hash(seq, kid, head.hash, nonce, ct))


def last_head(line: bytes) -> Head:
    """Where a trail whose last complete line is ``line`` stands (to go on appending to it)."""
    return Link.parse(line).head


class Broken(Exception):
    """The first link of a trail that does not hold: where it is and what is wrong with it."""

    def __init__(self, line: int, seq: int | None, problem: str) -> None:
        where = f"record {seq} (line {line})" if seq is not None else f"line {line}"
        super().__init__(f"{where}: {problem}")
        self.line = line
        self.seq = seq
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Opened:
    link: Link
    plaintext: bytes


@dataclass(slots=True)
class ChainReader:
    """Walks one session's trail in order, opening each link; raises ``Broken`` at the first
    that does not hold. After the walk, ``head`` is the last good link and ``torn`` says whether
    a cut-short last line followed it."""

    keyring: Keyring
    session_id: str
    head: Head = field(default_factory=Head)
    torn: bool = False
    lines: int = 0  # lines read so far: a trail may be read in several calls, its lines numbered on

    def read(self, lines: Iterable[bytes]) -> Iterator[Opened]:
        pending: bytes | None = None
        for line in lines:
            if pending is not None:
                yield self._open(self.lines, pending)
            self.lines += 1
            pending = line
        if pending is None:
            return
        if not pending.endswith(b"\n"):
            self.torn = True  # the writer always ends a line: this one was cut short
            return
        yield self._open(self.lines, pending)

    def _open(self, number: int, line: bytes) -> Opened:
        expected = self.head.seq + 1
        try:
            link = Link.parse(line)
        except (ValueError, KeyError, TypeError) as exc:
            raise Broken(number, None, f"is not a readable record ({exc.__class__.__name__}): it was damaged") from exc
        if link.computed_hash() != link.hash:
            raise Broken(number, link.seq, "its hash does not match its contents: the record was changed")
        if link.seq != expected:
            raise Broken(number, link.seq, f"record {expected} was expected here: records were removed, "
                                           "inserted or reordered")
        if link.prev != self.head.hash:
            raise Broken(number, link.seq, "it does not follow the record before it: the chain is broken here")
        if link.kid not in self.keyring.keys:
            raise Broken(number, link.seq, f"it is sealed with key {link.kid!r}, which is not in the keyring")
        try:
            plaintext = self.keyring.cipher(link.kid).decrypt(link.nonce, link.ct,
                                            _associated(self.session_id, link.seq, link.kid, link.prev))
        except InvalidTag as exc:
            raise Broken(number, link.seq, "it fails authentication: changed, or the wrong key or session "
                                            "id") from exc
        self.head = link.head
        return Opened(link, plaintext)
