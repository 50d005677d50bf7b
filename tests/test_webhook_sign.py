"""Webhook signatures (``sessions.webhook_sign``): what a receiver checks. A signed body verifies
with its secret; flipping any one bit of the body, the secret, the timestamp or the signature
makes it fail; a timestamp outside the replay window fails; malformed headers are refused with
a reason, never a crash."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.webhook_sign import TOLERANCE, SignatureError, new_secret, parse, sign, verify

secrets_ = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=512)
times = st.integers(min_value=0, max_value=10**10)


def flip(data: bytes, bit: int) -> bytes:
    at, mask = divmod(bit, 8)
    return data[:at] + bytes([data[at] ^ (1 << mask)]) + data[at + 1:]


@given(secret=secrets_, body=bodies, t=times)
def test_a_signed_body_verifies_with_its_secret(secret: str, body: bytes, t: int) -> None:
    assert verify(secret, sign(secret, t, body), body, now=t).timestamp == t


@given(secret=secrets_, body=bodies.filter(bool), t=times, data=st.data())
def test_any_one_bit_flipped_in_the_body_fails(secret: str, body: bytes, t: int, data: st.DataObject) -> None:
    header = sign(secret, t, body)
    bit = data.draw(st.integers(0, len(body) * 8 - 1))
    with pytest.raises(SignatureError):
        verify(secret, header, flip(body, bit), now=t)


@given(secret=secrets_.filter(lambda s: s.isascii()), body=bodies, t=times, data=st.data())
def test_any_one_bit_flipped_in_the_secret_fails(secret: str, body: bytes, t: int, data: st.DataObject) -> None:
    header = sign(secret, t, body)
    raw = secret.encode()
    other = flip(raw, data.draw(st.integers(0, len(raw) * 8 - 1))).decode("latin-1")
    with pytest.raises(SignatureError):
        verify(other, header, body, now=t)


@given(secret=secrets_, body=bodies, t=times, data=st.data())
def test_any_one_bit_flipped_in_the_signature_or_timestamp_fails(
        secret: str, body: bytes, t: int, data: st.DataObject) -> None:
    header = sign(secret, t, body).encode()
    flipped = flip(header, data.draw(st.integers(0, len(header) * 8 - 1))).decode("latin-1")
    with pytest.raises(SignatureError):
        verify(secret, flipped, body, now=t, tolerance=10**11)


@given(secret=secrets_, body=bodies, t=times, skew=st.integers(TOLERANCE + 1, 10**6), sign_of=st.sampled_from([-1, 1]))
def test_a_timestamp_outside_the_replay_window_fails(
        secret: str, body: bytes, t: int, skew: int, sign_of: int) -> None:
    with pytest.raises(SignatureError, match="replay"):
        verify(secret, sign(secret, t, body), body, now=t + sign_of * skew)


@given(header=st.text(max_size=200))
def test_any_header_is_parsed_or_refused_with_a_reason(header: str) -> None:
    try:
        parse(header)
    except SignatureError as exc:
        assert str(exc)


def test_the_scheme_is_hmac_sha256_over_timestamp_dot_body_as_documented() -> None:
    secret, body = new_secret(), b'{"id":"evt_1"}'
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(secret, 1700000000, body) == f"t=1700000000,v1={expected}"
    assert secret.startswith("whsec_") and secret != new_secret()


def test_one_matching_signature_among_several_is_enough() -> None:
    body, old, new = b"{}", new_secret(), new_secret()
    both = f"{sign(new, 5, body)},v1={sign(old, 5, body).rsplit('=', 1)[1]}"  # while a secret is replaced
    assert verify(old, both, body, now=5).signatures == verify(new, both, body, now=5).signatures
    with pytest.raises(SignatureError):
        verify(new_secret(), both, body, now=5)
