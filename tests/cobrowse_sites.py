"""Old home of the end-to-end sites and the counting front, kept as aliases while other test modules
still import from here: the sites are ``world.e2e_sites``, the front ``world.front``."""

from __future__ import annotations

from world.e2e_sites import CHAT, RAND, SPA, Sites, png, start_sites
from world.front import start_counting_front

__all__ = ["CHAT", "RAND", "SPA", "Sites", "png", "start_counting_front", "start_sites"]
