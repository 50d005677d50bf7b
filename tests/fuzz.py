"""Hypothesis profiles: ``ci`` (the default, fast) and ``deep`` (by hand, ~100x the examples).

    pytest --hypothesis-profile=deep tests/test_html_rewriter.py

Properties size their runs with ``scaled(n)``: ``n`` examples on the ``ci`` profile and
proportionally more on ``deep``. Every crash a deep run finds is kept as an ``@example``
beside the property that found it, so CI replays it forever.
"""

from __future__ import annotations

from hypothesis import settings

CI_EXAMPLES = 100
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)
settings.register_profile("deep", max_examples=CI_EXAMPLES * 100, deadline=None, print_blob=True)
settings.load_profile("ci")


def scaled(n: int) -> int:
    """``n`` examples on the ci profile, scaled with the loaded profile's size."""
    return max(1, n * settings.default.max_examples // CI_EXAMPLES)
