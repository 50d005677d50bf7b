"""Old name of ``world.targets`` (kept while other test modules still import it from here)."""

from __future__ import annotations

from world.targets import AppFactory, World, serve_app, start_world

__all__ = ["AppFactory", "World", "serve_app", "start_world"]
