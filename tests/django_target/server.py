"""Start the Django target as a subprocess: migrate, create the admin user, ``runserver``.

Everything lives in a caller-given directory (database, per-run settings module), so runs never
share state. The server listens on a loopback ephemeral port and answers only ``Host: django.test``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from world.targets import free_port

TESTS_DIR = Path(__file__).resolve().parent.parent
HOST = "django.test"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-pass-123"


@dataclass(frozen=True, slots=True)
class DjangoTarget:
    port: int

    def resolve_overrides(self) -> dict[str, tuple[str, int]]:
        return {f"{HOST}:80": ("127.0.0.1", self.port)}


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(workdir), str(TESTS_DIR)])
    env["DJANGO_SUPERUSER_PASSWORD"] = ADMIN_PASSWORD
    return env


def _manage(workdir: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", *args, "--settings=run_settings"],
        cwd=workdir,
        env=_env(workdir),
        check=True,
        capture_output=True,
        timeout=120,
    )


async def _wait_listening(port: int, proc: asyncio.subprocess.Process, attempts: int = 300) -> None:
    for _ in range(attempts):
        if proc.returncode is not None:
            raise RuntimeError(f"Django runserver exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("Django runserver never started listening")


@contextlib.asynccontextmanager
async def start_django(workdir: Path) -> AsyncIterator[DjangoTarget]:
    (workdir / "run_settings.py").write_text(
        "from django_target.settings import *  # noqa: F403\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {str(workdir / 'db.sqlite3')!r}}}}}\n"
    )
    await asyncio.to_thread(_manage, workdir, "migrate", "--noinput")
    await asyncio.to_thread(
        _manage, workdir, "createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", "a@example.com"
    )
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "django",
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
        "--settings=run_settings",
        cwd=workdir,
        env=_env(workdir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_listening(port, proc)
        yield DjangoTarget(port)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
