"""httpbin 0.10.0 as the compatibility suite serves it (``gunicorn httpbin_app:app``).

httpbin 0.10.0 imports ``werkzeug.http.parse_authorization_header``, which Werkzeug 3 removed
(``Authorization.from_header`` took its place); Werkzeug 3 comes with Flask 3, which mitmproxy
(the audit exports' dependency) pins. Later httpbin releases pin greenlet<3 on Python 3.11, which
Playwright cannot share, so the helper is put back here, before httpbin is imported. Nothing
else changes: the endpoints the suite uses (redirects, cookies, status, forms, basic auth)
behave as under Werkzeug 2; digest auth, which uses another removed helper, is not used.
"""

from __future__ import annotations

import werkzeug.http
from werkzeug.datastructures import Authorization

if not hasattr(werkzeug.http, "parse_authorization_header"):
    werkzeug.http.parse_authorization_header = Authorization.from_header  # type: ignore[attr-defined]

from httpbin import app

__all__ = ["app"]
