"""Which XML elements and attributes carry URLs, by namespace: data, reviewed like data.

Names are in Clark notation (``{namespace}local``; no namespace is just ``local``), as lxml
gives them, so a prefix a document picks (``atom:link``, ``xl:href``) never matters.

- ``ELEMENT_ATTRS``: attributes of one element that carry URLs, as ``html_tables.Kind``.
- ``NAMESPACE_ATTRS``: attributes that carry URLs on every element of a namespace (SVG's
  ``href`` and presentation attributes that may hold ``url()``).
- ``ANY_ATTRS``: attributes that carry a URL on any element (``xlink:href``, ``xml:base``).
- ``TEXT_URLS``: elements whose whole text is one URL (a feed's ``<link>``, a sitemap's ``<loc>``).
- ``STYLESHEETS``: elements whose text is a CSS stylesheet (SVG's and XHTML's ``<style>``).
- XHTML elements take the HTML tables (``html_tables.rules_for``) by their local name (also
  inside SVG's ``foreignObject``, Atom's ``type="xhtml"`` content, a sitemap's hreflang links).

Left alone on purpose: identifiers that only look like URLs (Atom ``<id>``, RSS ``<guid>``,
namespace names, RDF ``about``): readers compare them, they are never fetched. Escaped HTML in
feed text (RSS ``<description>``, Atom ``type="html"``) is text to XML; what a page script
inserts from it is mapped by the runtime.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from rewriter.html_tables import Kind

XHTML: Final = "http://www.w3.org/1999/xhtml"
SVG: Final = "http://www.w3.org/2000/svg"
XLINK: Final = "http://www.w3.org/1999/xlink"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
ATOM: Final = "http://www.w3.org/2005/Atom"
RSS1: Final = "http://purl.org/rss/1.0/"
SITEMAP: Final = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP_IMAGE: Final = "http://www.google.com/schemas/sitemap-image/1.1"
SITEMAP_VIDEO: Final = "http://www.google.com/schemas/sitemap-video/1.1"
MEDIA_RSS: Final = "http://search.yahoo.com/mrss/"
ITUNES: Final = "http://www.itunes.com/dtds/podcast-1.0.dtd"

XML_BASE: Final = f"{{{XML_NS}}}base"

_U = Kind.URL

ANY_ATTRS: Final = MappingProxyType({f"{{{XLINK}}}href": _U, XML_BASE: _U})

# SVG: href on any element (a, use, image, script, feImage, textPath, ...); presentation
# attributes are CSS values, so ``fill="url(other.svg#g)"`` goes through the CSS rewriter.
_SVG_CSS_ATTRS = ("style", "fill", "stroke", "clip-path", "mask", "filter", "marker-start", "marker-mid",
                  "marker-end", "cursor")
NAMESPACE_ATTRS: Final = MappingProxyType({
    SVG: MappingProxyType({"href": _U, **dict.fromkeys(_SVG_CSS_ATTRS, Kind.CSS)}),
})

ELEMENT_ATTRS: Final = MappingProxyType({
    # RSS 2.0 (no namespace)
    "enclosure": MappingProxyType({"url": _U}),
    "source": MappingProxyType({"url": _U}),
    # Atom
    f"{{{ATOM}}}link": MappingProxyType({"href": _U}),
    f"{{{ATOM}}}content": MappingProxyType({"src": _U}),
    f"{{{ATOM}}}generator": MappingProxyType({"uri": _U}),
    # Media RSS, iTunes podcasts
    f"{{{MEDIA_RSS}}}content": MappingProxyType({"url": _U}),
    f"{{{MEDIA_RSS}}}thumbnail": MappingProxyType({"url": _U}),
    f"{{{MEDIA_RSS}}}player": MappingProxyType({"url": _U}),
    f"{{{ITUNES}}}image": MappingProxyType({"href": _U}),
})

TEXT_URLS: Final = frozenset({
    # RSS 2.0 (no namespace) and RSS 1.0
    "link", "url", "docs", "comments",
    f"{{{RSS1}}}link", f"{{{RSS1}}}url",
    # Atom
    f"{{{ATOM}}}uri", f"{{{ATOM}}}icon", f"{{{ATOM}}}logo",
    # sitemaps and sitemap indexes, with the image and video extensions
    f"{{{SITEMAP}}}loc",
    f"{{{SITEMAP_IMAGE}}}loc",
    f"{{{SITEMAP_VIDEO}}}content_loc", f"{{{SITEMAP_VIDEO}}}player_loc", f"{{{SITEMAP_VIDEO}}}thumbnail_loc",
})

STYLESHEETS: Final = frozenset({f"{{{SVG}}}style", f"{{{XHTML}}}style"})

# The processing instruction that links a stylesheet (XSLT or CSS) to an XML document.
STYLESHEET_PI: Final = "xml-stylesheet"
