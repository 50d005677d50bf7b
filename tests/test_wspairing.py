"""Correlation tokens (sessions/wspairing.py): scripts of driver sends, follower sends and target
frames in, frames due to the follower out; Hypothesis for "never lost, never reordered, lengths kept"."""

from __future__ import annotations

import json
import struct
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from sessions.wspairing import Pairing, PairingLimits, SentLog, scan

WAIT = 5.0
D_SESSION, F_SESSION = "0f1e2d3c-4b5a-4678-9abc-def012345678", "a9b8c7d6-e5f4-4321-8765-43210fedcba9"


def request(msg_id: str, session: str, date: str = "2026-12-03T13:41:58.123Z", code: str = "print(6*7)") -> str:
    header = {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "date": date, "username": ""}
    return json.dumps({"header": header, "parent_header": {}, "content": {"code": code}, "channel": "shell"})


def reply(parent: str, session: str, text: str = "42") -> str:
    header = {"msg_id": "kernel-5ab3c9d0e1f24a6b_77_3", "msg_type": "stream", "session": "kernel"}
    return json.dumps({"header": header, "parent_header": {"msg_id": parent, "session": session},
                       "content": {"text": text}, "channel": "iopub"})


def parent_of(frame: tuple[bool, str | bytes]) -> str:
    return str(json.loads(frame[1])["parent_header"]["msg_id"])


def ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def driver_asked(limits: PairingLimits | None = None, **fields: str) -> tuple[SentLog, Pairing, str, str]:
    """A follower attached to a socket on which the driver has just sent one request: (log, follower,
    the driver's msg_id, the one the follower will use)."""
    log = SentLog()
    follower = Pairing(log, WAIT, limits or PairingLimits())
    d_id, f_id = ids()
    log.record(True, request(d_id, D_SESSION, **fields))
    return log, follower, d_id, f_id


def test_scan_finds_uuids_and_mixed_random_runs_and_masks_numbers_in_the_shape() -> None:
    data = (b'{"id":"0f1e2d3c-4b5a-4678-9abc-def012345678","k":"a8Fk29dLq0ZpW3xY",'
            b'"n":1712345678,"w":"internationalization"}')
    shape, tokens = scan(data)
    assert [t for _, t in tokens] == [b"0f1e2d3c-4b5a-4678-9abc-def012345678", b"a8Fk29dLq0ZpW3xY"]
    assert all(data[at:at + len(t)] == t for at, t in tokens)
    assert b"1712345678" not in shape and b"internationalization" in shape
    other = data.replace(b"0f1e2d3c", b"99999999").replace(b"a8Fk29", b"Zz00Zz").replace(b"1712345678", b"17")
    assert scan(other)[0] == shape


def test_scan_shape_keeps_token_lengths_apart() -> None:
    assert scan(b'{"id":"a8Fk29dLq0ZpW3xY"}')[0] != scan(b'{"id":"a8Fk29dLq0ZpW3xYQ"}')[0]


def test_follower_gets_reply_to_its_own_request_once_it_sent_it() -> None:
    _, follower, d_id, f_id = driver_asked()
    assert follower.from_target(True, reply(d_id, D_SESSION), now=0.0) == []
    assert follower.deadline() == WAIT
    out = follower.from_follower(True, request(f_id, F_SESSION, date="2026-12-03T13:41:59.987Z"), now=0.5)
    assert [parent_of(f) for f in out] == [f_id]
    assert json.loads(out[0][1])["parent_header"]["session"] == F_SESSION
    assert follower.from_target(True, reply(d_id, D_SESSION, "43"), now=0.6) == [
        (True, reply(f_id, F_SESSION, "43"))]


def test_follower_that_sent_first_is_paired_when_the_drivers_twin_is_logged() -> None:
    log = SentLog()
    follower = Pairing(log, WAIT)
    d_id, f_id = ids()
    assert follower.from_follower(True, request(f_id, F_SESSION), now=0.0) == []
    log.record(True, request(d_id, D_SESSION))
    assert [parent_of(f) for f in follower.from_target(True, reply(d_id, D_SESSION), now=0.1)] == [f_id]


def test_frames_behind_a_held_one_wait_and_keep_their_order() -> None:
    _, follower, d_id, f_id = driver_asked()
    assert follower.from_target(True, reply(d_id, D_SESSION), now=0.0) == []
    assert follower.from_target(True, '{"status":"idle"}', now=0.1) == []
    out = follower.from_follower(True, request(f_id, F_SESSION), now=0.2)
    assert out == [(True, reply(f_id, F_SESSION)), (True, '{"status":"idle"}')]


def test_held_frame_goes_on_as_the_drivers_after_the_wait_and_is_not_held_again() -> None:
    _, follower, d_id, _ = driver_asked()
    assert follower.from_target(True, reply(d_id, D_SESSION), now=0.0) == []
    assert follower.expire(now=WAIT - 0.01) == []
    assert follower.expire(now=WAIT) == [(True, reply(d_id, D_SESSION))]
    assert follower.deadline() is None
    assert follower.from_target(True, reply(d_id, D_SESSION, "again"), now=WAIT + 1) == [
        (True, reply(d_id, D_SESSION, "again"))]


def test_frames_naming_no_driver_token_pass_at_once_unchanged() -> None:
    follower = Pairing(SentLog(), WAIT)
    frame = reply("5ab3c9d0e1f24a6b5ab3c9d0e1f24a6b", "kernel-session-1234abcd")
    assert follower.from_target(True, frame, now=0.0) == [(True, frame)]


def test_requests_of_another_shape_do_not_pair() -> None:
    _, follower, d_id, f_id = driver_asked(code="print(6*7)")
    assert follower.from_target(True, reply(d_id, D_SESSION), now=0.0) == []
    assert follower.from_follower(True, request(f_id, F_SESSION, code="print(1)"), now=0.1) == []
    assert follower.expire(now=WAIT) == [(True, reply(d_id, D_SESSION))]


def test_twins_pair_in_order_and_pairing_a_later_one_gives_up_the_older() -> None:
    log = SentLog()
    d1, d2, d3 = (str(uuid.uuid4()) for _ in range(3))
    log.record(True, request(d1, D_SESSION))  # before the follower came: it will never send this one's twin
    follower = Pairing(log, WAIT)
    log.record(True, request(d2, D_SESSION))
    log.record(True, request(d3, D_SESSION))
    f2, f3 = ids()
    follower.from_follower(True, request(f2, F_SESSION), now=0.0)
    follower.from_follower(True, request(f3, F_SESSION), now=0.0)
    out = [follower.from_target(True, reply(d, D_SESSION), now=0.1) for d in (d1, d2, d3)]
    assert [[parent_of(f) for f in o] for o in out] == [[d1], [f2], [f3]]


def test_late_joiners_start_up_request_pairs_with_the_reply_in_its_backlog() -> None:
    log = SentLog()
    d_info, d_exec = ids()
    log.record(True, request(d_info, D_SESSION, code=""))
    log.record(True, request(d_exec, D_SESSION))
    follower = Pairing(log, WAIT)  # the backlog follows: the kernel_info reply first
    assert follower.from_target(True, reply(d_info, D_SESSION, "info"), now=0.0) == []
    f_info = str(uuid.uuid4())
    out = follower.from_follower(True, request(f_info, F_SESSION, code=""), now=0.1)
    assert [parent_of(f) for f in out] == [f_info]


def binary_frame(channel: bytes, header: dict[str, str], parent: dict[str, str]) -> bytes:
    """Jupyter's v1.kernel.websocket.jupyter.org framing: offsets (u64 LE), then the parts."""
    parts = [channel, json.dumps(header).encode(), json.dumps(parent).encode(), b"{}", b'{"text":"42"}']
    offsets, at = [], 8 * (len(parts) + 2)
    for part in parts:
        offsets.append(at)
        at += len(part)
    offsets.append(at)
    return struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets) + b"".join(parts)


def test_binary_frames_are_paired_and_rewritten_in_place_keeping_their_offsets() -> None:
    log = SentLog()
    follower = Pairing(log, WAIT)
    d_id, f_id = ids()
    log.record(False, binary_frame(b"shell", {"msg_id": d_id, "session": D_SESSION}, {}))
    sent = binary_frame(b"iopub", {"msg_id": "k1"}, {"msg_id": d_id, "session": D_SESSION})
    assert follower.from_target(False, sent, now=0.0) == []
    out = follower.from_follower(False, binary_frame(b"shell", {"msg_id": f_id, "session": F_SESSION}, {}), now=0.1)
    assert out == [(False, binary_frame(b"iopub", {"msg_id": "k1"}, {"msg_id": f_id, "session": F_SESSION}))]


def test_held_frames_over_the_bound_go_on_oldest_first() -> None:
    _, follower, d_id, _ = driver_asked(PairingLimits(held_frames=2))
    frames = [reply(d_id, D_SESSION, str(n)) for n in range(4)]
    out = [f for n, frame in enumerate(frames) for f in follower.from_target(True, frame, now=n * 0.01)]
    assert out == [(True, frames[0]), (True, frames[1])]
    assert len(follower.held) == 2


def test_log_keeps_the_last_frames_only_and_forgets_their_tokens() -> None:
    log = SentLog(PairingLimits(log_frames=2))
    follower = Pairing(log, WAIT)
    d_ids = [str(uuid.uuid4()) for _ in range(3)]
    for d in d_ids:
        log.record(True, request(d, "0000000000000000000000000000000a" if d != d_ids[-1] else D_SESSION))
    assert [s.seq for s in log.frames] == [1, 2]
    assert log.seqs_naming(d_ids[0].encode()) == []
    assert follower.from_target(True, reply(d_ids[0], "x"), now=0.0) == [(True, reply(d_ids[0], "x"))]


def test_driver_frames_over_the_byte_bound_are_not_logged() -> None:
    log = SentLog(PairingLimits(log_bytes=64))
    log.record(True, request(str(uuid.uuid4()), D_SESSION))
    assert not log.frames


def test_flush_lets_everything_held_go() -> None:
    _, follower, d_id, _ = driver_asked()
    follower.from_target(True, reply(d_id, D_SESSION), now=0.0)
    assert follower.flush() == [(True, reply(d_id, D_SESSION))]
    assert follower.deadline() is None


_alnum = st.sampled_from("0123456789abcdefABCDEFxyz")
_token = st.text(_alnum, min_size=16, max_size=40).map(lambda s: s[:-2] + "a1")
_piece = st.one_of(st.binary(max_size=24), _token.map(str.encode), st.sampled_from([b'"', b":", b"-", b" "]))
_frame = st.lists(_piece, max_size=12).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(driver=st.lists(_frame, max_size=6),
       script=st.lists(st.tuples(st.sampled_from(["target", "follower", "tick"]), _frame), max_size=20))
def test_target_frames_are_never_lost_reordered_or_resized(driver: list[bytes],
                                                            script: list[tuple[str, bytes]]) -> None:
    log = SentLog()
    follower = Pairing(log, WAIT, PairingLimits(held_frames=5))
    for data in driver:
        log.record(False, data)
    sent: list[bytes] = []
    got: list[tuple[bool, str | bytes]] = []
    for n, (what, data) in enumerate(script):
        now = n * 0.5
        if what == "target":
            sent.append(data)
            got += follower.from_target(False, data, now)
        elif what == "follower":
            got += follower.from_follower(False, data, now)
            log.record(False, data[::-1])
        else:
            got += follower.expire(now)
    got += follower.flush()
    assert [len(d) for _, d in got] == [len(d) for d in sent]
    for (is_text, relayed), original in zip(got, sent, strict=True):
        assert not is_text and isinstance(relayed, bytes)
        assert scan(relayed)[0] == scan(original)[0]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80), token=_token)
def test_text_frames_stay_text_of_the_same_length(text: str, token: str) -> None:
    log = SentLog()
    follower = Pairing(log, WAIT)
    log.record(True, f'{{"id":"{token}"}}')
    follower.from_follower(True, f'{{"id":"{token[::-1][2:]}1a"}}', now=0.0)
    out = follower.from_target(True, text + token, now=0.0) + follower.flush()
    assert len(out) == 1 and out[0][0] is True and isinstance(out[0][1], str)
    assert len(out[0][1].encode("utf-8", "surrogatepass")) == len((text + token).encode("utf-8", "surrogatepass"))


def test_a_large_frame_full_of_base64_runs_is_rewritten_only_where_it_names_the_driver() -> None:
    _, follower, d_id, f_id = driver_asked()
    follower.from_follower(True, request(f_id, F_SESSION), now=0.0)
    image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB/" * 2000 + d_id.replace("-", "")
    frame = reply(d_id, D_SESSION, image)
    assert follower.from_target(True, frame, now=0.1) == [(True, reply(f_id, F_SESSION, image))]
