"""The audit trail's pure core: records, redaction, the sealed hash chain and its reader.

Scripts of records in, links out; every tampering a reader of the files could do (a changed
bit, a removed, inserted or swapped line, the wrong key or session) is caught at the record it
touches, and named.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.audit_chain import GENESIS, Broken, ChainReader, Head, Keyring, Link, link_hash, new_keyring, seal
from sessions.audit_record import Event, Exchange, decode, encode, event
from sessions.audit_redaction import REDACTED, Redactor
from sessions.credentials import Credential, Signer

SID = "abcdefghijklmnop"
OTHER_SID = "bcdefghijklmnopq"


def trail(keyring: Keyring, count: int, sid: str = SID) -> list[bytes]:
    head, lines = Head(), []
    for n in range(count):
        link = seal(keyring, sid, head, encode(event(float(n), "p1", "navigation", url=f"http://a.test/{n}")))
        head = link.head
        lines.append(link.line())
    return lines


def read_all(keyring: Keyring, lines: list[bytes], sid: str = SID) -> ChainReader:
    reader = ChainReader(keyring, sid)
    for _ in reader.read(lines):
        pass
    return reader


def broken_at(keyring: Keyring, lines: list[bytes], sid: str = SID) -> Broken:
    with pytest.raises(Broken) as caught:
        read_all(keyring, lines, sid)
    return caught.value


def flip_bit_in_ciphertext(line: bytes) -> bytes:
    link = Link.parse(line)
    ct = bytearray(link.ct)
    ct[len(ct) // 2] ^= 0x01
    return Link(link.seq, link.kid, link.prev, link.nonce, bytes(ct), link.hash).line()


def test_untouched_trail_opens_every_record_in_order() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 5)
    reader = ChainReader(keyring, SID)
    opened = [decode(o.plaintext) for o in reader.read(lines)]
    assert [r.get("url") for r in opened if isinstance(r, Event)] == [f"http://a.test/{n}" for n in range(5)]
    assert reader.head.seq == 5 and not reader.torn
    assert Link.parse(lines[0]).prev == GENESIS


def test_one_bit_flip_is_named_at_its_record() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 6)
    lines[3] = flip_bit_in_ciphertext(lines[3])
    broken = broken_at(keyring, lines)
    assert (broken.line, broken.seq) == (4, 4) and "changed" in broken.problem


def test_removed_record_is_named_at_the_line_it_left() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 6)
    del lines[2]
    broken = broken_at(keyring, lines)
    assert (broken.line, broken.seq) == (3, 4) and "record 3 was expected" in broken.problem


def test_inserted_record_is_named() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 6)
    lines.insert(4, lines[1])
    broken = broken_at(keyring, lines)
    assert (broken.line, broken.seq) == (5, 2) and "removed, inserted or reordered" in broken.problem


def test_swapped_records_are_named_at_the_first() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 6)
    lines[2], lines[3] = lines[3], lines[2]
    broken = broken_at(keyring, lines)
    assert (broken.line, broken.seq) == (3, 4)


def test_renumbered_and_rechained_forgery_fails_authentication() -> None:
    """Recomputing seq, prev and hash after removing a record is possible without the key, but
    the associated data binds them: the moved record no longer authenticates."""
    keyring = new_keyring()
    lines = trail(keyring, 4)
    first, third = Link.parse(lines[0]), Link.parse(lines[2])
    forged = Link(2, third.kid, first.hash, third.nonce, third.ct, link_hash(2, third.kid, first.hash, third.nonce,
                                                                             third.ct))
    broken = broken_at(keyring, [lines[0], forged.line()])
    assert (broken.line, broken.seq) == (2, 2) and "fails authentication" in broken.problem


def test_wrong_key_fails_authentication_at_the_first_record() -> None:
    lines = trail(new_keyring(), 3)
    broken = broken_at(new_keyring(), lines)  # same key id "k1", another key
    assert broken.seq == 1 and "fails authentication" in broken.problem


def test_wrong_session_id_fails_authentication() -> None:
    keyring = new_keyring()
    broken = broken_at(keyring, trail(keyring, 3), sid=OTHER_SID)
    assert broken.seq == 1 and "fails authentication" in broken.problem


def test_unknown_key_id_is_named() -> None:
    lines = trail(new_keyring(), 2)
    other = Keyring({"k9": new_keyring().keys["k1"]}, "k9")
    assert "'k1', which is not in the keyring" in broken_at(other, lines).problem


def test_rotation_seals_with_the_new_key_and_old_records_still_open() -> None:
    keyring = new_keyring()
    old = trail(keyring, 2)
    rotated = keyring.rotated()
    assert rotated.current == "k2" and set(rotated.keys) == {"k1", "k2"}
    head = Link.parse(old[-1]).head
    newer = seal(rotated, SID, head, encode(event(9.0, "", "ended", by="api")))
    assert newer.kid == "k2"
    assert read_all(rotated, [*old, newer.line()]).head.seq == 3
    assert "not in the keyring" in broken_at(keyring, [*old, newer.line()]).problem
    assert Keyring.parse(rotated.dump()) == rotated


def test_cut_short_last_line_ends_the_walk_and_is_reported_not_broken() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 3)
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    reader = read_all(keyring, lines)
    assert reader.head.seq == 2 and reader.torn


def test_cut_short_line_before_the_end_is_broken() -> None:
    keyring = new_keyring()
    lines = trail(keyring, 3)
    lines[1] = lines[1][:40] + b"\n"
    assert broken_at(keyring, lines).line == 2


@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=2**40))
def test_seal_then_open_round_trips_any_plaintext(plaintext: bytes, seq: int) -> None:
    keyring = Keyring({"k1": b"k" * 32}, "k1")
    link = seal(keyring, SID, Head(seq, GENESIS), plaintext)
    reader = ChainReader(keyring, SID, Head(seq, GENESIS))
    assert [o.plaintext for o in reader.read([link.line()])] == [plaintext]


def test_record_encoding_is_canonical_and_round_trips() -> None:
    record = Exchange(1.5, "p1", "upstream", "POST", "http://a.test/x", 302, target_status=302, request_bytes=3,
                      request_headers=(("A", "1"), ("A", "2")), response_headers=(("Location", "/y"),),
                      request_body=b"\x00\xff", location="/y", navigation=True)
    assert decode(encode(record)) == record
    assert encode(record) == encode(decode(encode(record)))
    assert encode(event(1.0, "p", "created", url="u", agent="a")) == encode(event(1.0, "p", "created", agent="a",
                                                                                  url="u"))
    with pytest.raises(ValueError):
        event(1.0, "p", "no-such-event")


def test_redaction_takes_out_credentials_and_names_what_it_took() -> None:
    credential = Signer(b"s" * 32).sign(Credential(SID, "p1a2b3", "leader", 4_000_000_000))
    record = Exchange(
        1.0, "p1", "upstream", "GET", "http://a.test/cb?ticket=T1CKET&x=1&Token=TOK#frag", 200,
        location="http://a.test/next?code=C0DE",
        request_headers=(("Cookie", "sid=S3CRET"), ("Authorization", "Bearer B34RER"),
                         ("Proxy-Authorization", "Basic PR0XY"), ("X-Api-Key", "K3Y"),
                         ("Referer", "http://a.test/?access_token=ACC3SS"), ("X-Echo", f"cbp={credential}")),
        response_headers=(("Set-Cookie", "sid=S3CRET; HttpOnly"), ("Content-Type", "text/html")))
    redacted = Redactor.configured(headers=["X-Api-Key"]).record(record)
    text = encode(redacted).decode()
    for secret in ("T1CKET", "TOK", "C0DE", "S3CRET", "B34RER", "PR0XY", "K3Y", "ACC3SS", credential):
        assert secret not in text
    assert isinstance(redacted, Exchange)
    assert redacted.url == f"http://a.test/cb?ticket={REDACTED}&x=1&Token={REDACTED}#frag"
    assert ("Content-Type", "text/html") in redacted.response_headers
    assert set(redacted.redacted) == {"header:cookie", "header:authorization", "header:proxy-authorization",
                                      "header:x-api-key", "header:set-cookie", "query:ticket", "query:token",
                                      "query:code", "query:access_token", "credential"}
    clean = Exchange(1.0, "p1", "store", "GET", "http://a.test/plain?x=1", 200)
    assert Redactor().record(clean) == clean


@given(st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                          st.dictionaries(st.sampled_from(["seq", "kid", "prev", "hash", "nonce", "ct"]),
                                          st.one_of(st.integers(), st.text(max_size=40), st.none()))
                          .map(lambda d: json.dumps(d).encode() + b"\n")), max_size=5))
def test_hostile_lines_are_named_as_broken_never_crash_the_reader(lines: list[bytes]) -> None:
    keyring = Keyring({"k1": b"k" * 32}, "k1")
    good = trail(keyring, 2)
    try:
        read_all(keyring, [*good, *lines])
    except Broken as broken:
        assert broken.line > 2 and broken.problem
