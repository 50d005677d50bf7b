"""The command line's progress bar: drawn only on a terminal and only for long runs, erased
when done; nothing at all in piped output."""

from __future__ import annotations

import io

import pytest

from proxy import progress
from proxy.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_run_on_a_terminal_draws_a_bar_and_erases_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    out = Terminal()
    bar = Progress(out, 200, "verifying")
    bar.update(100, 7)
    assert "verifying [###############---------------]  50% 7 records" in out.getvalue()
    bar.close()
    assert out.getvalue().endswith("\r\033[K")


def test_nothing_is_drawn_into_piped_output_or_for_a_short_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    piped = io.StringIO()
    bar = Progress(piped, 10, "exporting")
    bar.update(5, 1)
    bar.close()
    assert piped.getvalue() == ""
    monkeypatch.setattr(progress, "DELAY", 3600.0)
    quick = Terminal()
    bar = Progress(quick, 10, "verifying")
    bar.update(10, 3)
    bar.close()
    assert quick.getvalue() == ""
