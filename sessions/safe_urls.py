"""Where a session may send a browser: absolute http(s) URLs of printable ASCII, checked at the door.

``end_redirect_url`` and ``branding.retry_url`` are sent in ``Refresh``/``Location`` headers and
followed by the runtime or the join page, so a CR/LF (header injection), a space or another
control character, a backslash (browsers read it as "/"), or a scheme such as ``javascript:`` or
``data:`` is refused here with a message naming the field. Pure: no I/O.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

MAX_URL_CHARS: Final = 2048


def absolute_http_url(field: str, raw: object) -> str:
    """``raw`` when it is an absolute http(s) URL a browser may be sent to; "" when absent."""
    if raw is None or raw == "":
        return ""
    example = f'e.g. "{field}": "https://example.com/thanks"'
    if not isinstance(raw, str):
        raise ValueError(f'"{field}" must be a string, {example}')
    if len(raw) > MAX_URL_CHARS:
        raise ValueError(f'"{field}" is longer than {MAX_URL_CHARS} characters')
    if not all(0x21 <= ord(c) <= 0x7E for c in raw):
        raise ValueError(f'"{field}" must not contain spaces, line breaks (CR, LF), other control '
                         'characters or non-ASCII characters (percent-encode them)')
    if "\\" in raw:
        raise ValueError(f'"{field}" must not contain a backslash (browsers read it as "/")')
    try:
        parts = urlsplit(raw)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f'"{field}" is not a URL ({exc}), {example}') from exc
    slashes = raw[len(parts.scheme) + 1:].startswith("//")
    if parts.scheme.lower() not in ("http", "https") or not slashes or not host:
        raise ValueError(f'"{field}" must be an absolute http or https URL, {example}')
    return raw
