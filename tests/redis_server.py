"""A real ``redis-server`` for tests: Debian's binary on a free loopback port, in a temporary
directory, with no persistence (``--save '' --appendonly no``), stopped when the ``with`` ends.

``conftest.redis_url`` holds one for the whole test run; each test keeps to a namespace of its
own (``proxy.redis_store.RedisStore``'s ``namespace``), so tests never see each other's keys.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

REDIS_SERVER = "/usr/bin/redis-server"
READY_WITHIN = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    """Whether a server on ``port`` answers PING with PONG (a plain socket: no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def running_redis(password: str = "") -> Iterator[str]:
    """A started server's URL (``redis://127.0.0.1:PORT/0``); ``password`` sets ``requirepass``
    (the URL then carries it)."""
    binary = shutil.which("redis-server") or REDIS_SERVER
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cobrowse-redis-") as workdir:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", workdir, "--logfile", "", "--daemonize", "no"]
        if password:
            argv += ["--requirepass", password]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + READY_WITHIN
            while not (_answers(port) if not password else _accepts(port)):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}")
                time.sleep(0.05)
            auth = f":{password}@" if password else ""
            yield f"redis://{auth}127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _accepts(port: int) -> bool:
    """Whether a server that requires a password is listening (it answers PING with NOAUTH)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"-NOAUTH")
    except OSError:
        return False
