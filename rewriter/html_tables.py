"""Which HTML attributes carry URLs, and how each is rewritten: data, reviewed like data.

``rules_for(tag)`` gives the attribute table of one (lower-case) tag name: attribute name ->
``Kind``. Tags not listed get ``GLOBAL_ATTRS`` only, which hold what may appear on any element
(``style``, ``nonce``, ``integrity``, and SVG's ``href`` / ``xlink:href``, used by ``use``,
``image``, ``a``, ``script``, ``feImage``, ``textPath``...). An ``href`` on an element that
ignores it is rewritten too: harmless, and it saves knowing every SVG element by name.

Invariants: every key is lower case; rewriting an attribute of a kind never changes the
meaning of a non-URL part of its value (descriptors, refresh delays, CSS around ``url()``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class Kind(enum.Enum):
    URL = "url"  # one URL
    URL_LIST = "url-list"  # space-separated URLs (a[ping], applet[archive])
    SRCSET = "srcset"  # the srcset microsyntax (URLs may contain commas)
    CSS = "css"  # a declaration list, through rewriter.css
    HTML = "html"  # a whole document (iframe[srcdoc]), rewritten recursively
    DROP = "drop"  # removed: rewritten bodies no longer match hashes and nonces
    META_CONTENT = "meta-content"  # meta[content]: a URL after http-equiv=refresh, a charset
    CHARSET = "charset"  # meta[charset]: the output is always UTF-8
    SCRIPT = "script"  # an event-handler attribute: a function body, through rewriter.js


_U, _L, _S = Kind.URL, Kind.URL_LIST, Kind.SRCSET

GLOBAL_ATTRS: Final = MappingProxyType(
    {
        "style": Kind.CSS,
        "nonce": Kind.DROP,
        "integrity": Kind.DROP,
        "href": _U,
        "xlink:href": _U,
    }
)

_TAG_ATTRS: Final[dict[str, dict[str, Kind]]] = {
    "a": {"ping": _L},
    "area": {"ping": _L},
    "applet": {"codebase": _U, "archive": _L, "code": _U},
    "audio": {"src": _U},
    "blockquote": {"cite": _U},
    "body": {"background": _U},
    "button": {"formaction": _U},
    "del": {"cite": _U},
    "embed": {"src": _U},
    "form": {"action": _U},
    "frame": {"src": _U, "longdesc": _U},
    "html": {"manifest": _U},
    "iframe": {"src": _U, "srcdoc": Kind.HTML, "longdesc": _U},
    "img": {"src": _U, "srcset": _S, "longdesc": _U, "lowsrc": _U, "dynsrc": _U},
    "image": {"src": _U},
    "input": {"src": _U, "formaction": _U},
    "ins": {"cite": _U},
    "link": {"imagesrcset": _S},
    "meta": {"content": Kind.META_CONTENT, "charset": Kind.CHARSET},
    "object": {"data": _U, "codebase": _U, "archive": _L},
    "q": {"cite": _U},
    "script": {"src": _U},
    "source": {"src": _U, "srcset": _S},
    "table": {"background": _U},
    "td": {"background": _U},
    "th": {"background": _U},
    "track": {"src": _U},
    "video": {"src": _U, "poster": _U},
}

TAG_RULES: Final = MappingProxyType(
    {tag: MappingProxyType({**GLOBAL_ATTRS, **attrs}) for tag, attrs in _TAG_ATTRS.items()}
)

# Event-handler content attributes (onclick, onload, ...) are every ``on<letters>`` name: any
# element may carry one and the list grows with the platform. A name that is no handler is
# rewritten only if its value parses as a function body that reads ``location`` or calls eval.
HANDLER_PREFIX: Final = "on"

# A URL whose scheme is this runs its (percent-decoded) rest as a classic script.
JAVASCRIPT_SCHEME: Final = "javascript:"

# Elements whose content the tokenizer reads as text up to the matching end tag.
# noscript is left out on purpose: reading its content as markup rewrites the URLs in it,
# which is right whether or not the browser runs scripts.
RAW_TEXT: Final = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext"}
)

# <meta http-equiv> values whose whole tag is removed.
DROPPED_HTTP_EQUIV: Final = frozenset({"content-security-policy", "content-security-policy-report-only"})

# Tags the runtime may be injected after (it goes before the first other start tag).
HEAD_WRAPPERS: Final = frozenset({"html", "head"})


def rules_for(tag: str) -> MappingProxyType[str, Kind]:
    return TAG_RULES.get(tag, GLOBAL_ATTRS)


def attr_kind(rules: Mapping[str, Kind], name: str) -> Kind | None:
    """The kind of a (lower-case) attribute under a tag's rules; handlers on any tag."""
    kind = rules.get(name)
    if kind is None and name.startswith(HANDLER_PREFIX) and name[2:].isalpha() and name[2:].isascii():
        return Kind.SCRIPT
    return kind
