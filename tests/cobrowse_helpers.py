"""Old home of the co-browsing sites and Chromium participants, kept as aliases while other test
modules still import from here: the sites are ``world.sync_sites``, the participants ``world.party``."""

from __future__ import annotations

from world.party import (
    NORMALISED_BODY,
    WAIT_MS,
    SocketCutter,
    bodies_equal,
    join_follower,
    open_party,
    start_pair,
)
from world.party import BrowserParty as Party
from world.sync_sites import B_INDEX, INDEX, SPA, STORAGE, TWO, document_hits, start_sync_world

__all__ = ["B_INDEX", "INDEX", "NORMALISED_BODY", "SPA", "STORAGE", "TWO", "WAIT_MS", "Party", "SocketCutter",
           "bodies_equal", "document_hits", "join_follower", "open_party", "start_pair", "start_sync_world"]
