"""The rewriter package stays pure: importing every module loads no aiohttp and no asyncio."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import rewriter

ROOT = Path(__file__).resolve().parent.parent


def test_importing_every_rewriter_module_loads_neither_aiohttp_nor_asyncio() -> None:
    modules = sorted(f"rewriter.{m.name}" for m in pkgutil.iter_modules(rewriter.__path__))
    assert "rewriter.html" in modules and "rewriter.space" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'asyncio'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""
