"""The cobrowse server under benchmark, in its own process as deployed (``python -m proxy.cli serve``).

``running(port, *flags)`` starts it with the benchmarks' API key and stops it (SIGINT, then a
kill after 5 s) when the block exits, whatever happened inside; ``cwd``: the checkout whose code
runs (another worktree, to time two versions in one run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"


@contextlib.contextmanager
def running(port: int, *flags: str, cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "COBROWSE_API_KEY": API_KEY}
    server = subprocess.Popen([sys.executable, "-m", "proxy.cli", "serve", "--port", str(port), *flags],
                              cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    try:
        yield server
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()


async def up(port: int) -> None:
    """Wait for the server to listen: up to a minute (it imports slowly on a loaded machine)."""
    for _ in range(1200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listening on {port} after a minute")
