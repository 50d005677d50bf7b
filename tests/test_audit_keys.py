"""Where a running server's audit keys come from (``proxy.audit_keys.WatchedKeys``): the key file
read again when it changes, a rotation taking effect without a restart, a file made unreadable
after start never stopping the audit (the keys it had are kept), and fixed keys from the
environment."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from proxy.audit_keys import CHECK_EVERY, WatchedKeys, key_file, rotate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_rotation_is_seen_at_the_next_check_and_old_keys_stay(tmp_path: Path) -> None:
    clock = Clock()
    keys = WatchedKeys(tmp_path, clock=clock)
    first = keys()
    assert first.current == "k1" and key_file(tmp_path).exists()
    rotate(tmp_path)
    assert keys().current == "k1"  # not looked at again before CHECK_EVERY has passed
    clock.now += CHECK_EVERY
    after = keys()
    assert after.current == "k2" and after.keys["k1"] == first.keys["k1"]


def test_a_key_file_made_readable_by_others_keeps_the_keys_it_had(tmp_path: Path) -> None:
    clock = Clock()
    keys = WatchedKeys(tmp_path, clock=clock)
    rotate(tmp_path)
    key_file(tmp_path).chmod(0o644)
    clock.now += CHECK_EVERY
    assert keys().current == "k1"  # refused (others may read it): still sealing, with the old current key
    key_file(tmp_path).chmod(0o600)
    key_file(tmp_path).touch()
    clock.now += CHECK_EVERY
    assert keys().current == "k2"


def test_keys_from_the_environment_are_fixed(tmp_path: Path) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    clock = Clock()
    keys = WatchedKeys(tmp_path, f"e1:{key}", clock=clock)
    clock.now += 10 * CHECK_EVERY
    assert keys().current == "e1" and not key_file(tmp_path).exists()
