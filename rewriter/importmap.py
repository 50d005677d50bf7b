"""Rewrite the JSON of a ``<script type=importmap>`` so module loads stay in proxy space.

- ``imports`` and each scope's map: values (addresses) are mapped; a key that is an absolute
  URL is kept (code still imports the real URL) and a twin keyed by its proxy URL is added
  (modules loaded from a proxy URL resolve relative specifiers to proxy URLs).
- ``scopes`` keys are URL prefixes of the importing module's URL, which is a proxy URL: mapped.
- ``integrity`` is dropped: the proxied bodies may differ from the hashed ones.

Invalid JSON is left as it is (the browser rejects it too). The output escapes ``<`` so the
JSON can never close its ``<script>`` element.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def rewrite_importmap(text: str, to_proxy: Callable[[str], str]) -> str | None:
    """New JSON text, or None when there is nothing to change (or it is not valid JSON)."""
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = dict(data)
    imports = data.get("imports")
    if isinstance(imports, dict):
        out["imports"] = _specifier_map(imports, to_proxy)
    scopes = data.get("scopes")
    if isinstance(scopes, dict):
        out["scopes"] = {
            to_proxy(scope): _specifier_map(m, to_proxy) if isinstance(m, dict) else m
            for scope, m in scopes.items()
        }
    out.pop("integrity", None)
    if out == data:
        return None
    return json.dumps(out, ensure_ascii=False, indent=1).replace("<", "\\u003c")


def _specifier_map(mapping: dict[str, Any], to_proxy: Callable[[str], str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, address in mapping.items():
        value = to_proxy(address) if isinstance(address, str) else address
        out[key] = value
        proxied_key = to_proxy(key)
        if proxied_key != key:
            out.setdefault(proxied_key, value)
    return out
