"""Strict reading of a JSON object from outside: a name nobody reads is refused, naming it.

A typo (``viewonly``, ``no_bottombar``) must not pass silently as "the default". The message
names at most five unknown names (each cut to 40 characters: they come from the request) and
lists the known ones, so the caller can fix the request without reading the documentation.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable


def refuse_unknown(where: str, given: Iterable[str], known: Iterable[str], kind: str = "field") -> None:
    """Raise ``ValueError`` when ``given`` holds a name not in ``known``."""
    names = list(known)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f'{where} has unknown {kind}(s) {", ".join(repr(u[:40]) for u in unknown[:5])}; '
                         f'known: {", ".join(names)}')
