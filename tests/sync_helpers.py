"""Old home of the scripted participants, kept as aliases while other test modules still import from
here: they are ``world.sync_client`` (``ScriptedParty``, here ``Party``)."""

from __future__ import annotations

from world.harness import cookies_from
from world.sync_client import (
    TARGET,
    TARGET_HOST,
    WAIT,
    connect,
    expect,
    hello,
    host_of,
    join,
    lead,
    post_join,
    receive,
    send,
    start_session,
    until_closed,
)
from world.sync_client import ScriptedParty as Party

__all__ = ["TARGET", "TARGET_HOST", "WAIT", "Party", "connect", "cookies_from", "expect", "hello", "host_of", "join",
           "lead", "post_join", "receive", "send", "start_session", "until_closed"]
