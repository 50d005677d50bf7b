"""API keys for tests, made the operator's way: ``cobrowse keys ...`` run on a data dir.

``run_keys(data_dir, *argv)`` runs ``cobrowse keys ...`` (``proxy.cli.main``, in this process) and
returns its exit status and output; ``create_key`` returns the printed token (the last line).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class KeysRun:
    status: int
    out: str
    err: str


def run_keys(data_dir: str | Path, *argv: str) -> KeysRun:
    from proxy.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["keys", *argv, "--data-dir", str(data_dir)])
    return KeysRun(status, out.getvalue(), err.getvalue())


def create_key(data_dir: str | Path, name: str, *options: str) -> str:
    made = run_keys(data_dir, "create", name, *options)
    assert made.status == 0, made.err
    return made.out.strip().splitlines()[-1]
