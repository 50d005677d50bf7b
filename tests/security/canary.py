"""Old home of the canary, kept as an alias while other test modules still import it: ``world.canary``."""

from __future__ import annotations

from world.canary import Canary, fresh_loopback

__all__ = ["Canary", "fresh_loopback"]
