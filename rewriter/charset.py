"""Which character encoding a body is in, and decoding it without ever failing: the one
authority on encoding labels (HTML and CSS both ask ``lookup``).

Order (the WHATWG "encoding sniffing" order, minus the browser's guessing): a byte order
mark, then the ``charset`` of the Content-Type header, then a ``<meta charset>`` or
``<meta http-equiv=content-type>`` found by a prescan of the first ``PRESCAN_BYTES`` bytes,
else UTF-8. Only WHATWG encoding labels are accepted (a Python codec name such as ``utf-7``
that browsers do not know is ignored, like any unknown label), and each label maps to the
codec a browser would really use (``iso-8859-1`` and ``ascii`` mean windows-1252, ``gb2312``
means GB18030, ...).

Invariants: ``detect_charset`` and ``lookup`` return names ``decode_text`` accepts (never a
Python-only codec such as ``hex`` or ``rot13``); ``decode_text`` never raises (errors are
replaced) and drops a leading BOM.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

# The spec says 1024; pages with long comments or scripts ahead of their <meta> are common
# enough that a wider window finds their declared charset instead of falling back.
PRESCAN_BYTES: Final = 4096

# The WHATWG "replacement" encoding: the whole body decodes to one U+FFFD (these labels are
# unsafe to decode, e.g. ISO-2022-KR can hide markup).
REPLACEMENT: Final = "replacement"

_BOMS: Final = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

# WHATWG encoding -> (Python codec, labels). Labels are matched after lower-casing and stripping.
_ENCODINGS: Final[dict[str, tuple[str, ...]]] = {
    "utf-8": ("utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"),
    "cp1252": (
        "windows-1252", "iso-8859-1", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "latin1",
        "l1", "ascii", "us-ascii", "cp1252", "cp819", "ibm819", "iso-ir-100", "x-cp1252", "csisolatin1",
        "ansi_x3.4-1968", "cp367", "csascii", "ibm367", "iso-ir-6", "iso646-us", "us",
    ),
    "iso-8859-2": ("iso-8859-2", "iso8859-2", "iso88592", "iso_8859-2", "latin2", "l2", "csisolatin2"),
    "iso-8859-3": ("iso-8859-3", "iso8859-3", "latin3", "l3"),
    "iso-8859-4": ("iso-8859-4", "iso8859-4", "latin4", "l4"),
    "iso-8859-5": ("iso-8859-5", "iso8859-5", "cyrillic", "csisolatincyrillic"),
    "iso-8859-6": ("iso-8859-6", "iso8859-6", "arabic"),
    "iso-8859-7": ("iso-8859-7", "iso8859-7", "greek", "greek8"),
    "iso-8859-8": ("iso-8859-8", "iso8859-8", "hebrew", "iso-8859-8-i", "logical", "visual"),
    "iso-8859-10": ("iso-8859-10", "iso8859-10", "latin6", "l6"),
    "iso-8859-13": ("iso-8859-13", "iso8859-13"),
    "iso-8859-14": ("iso-8859-14", "iso8859-14"),
    "iso-8859-15": ("iso-8859-15", "iso8859-15", "iso_8859-15", "latin9", "l9"),
    "iso-8859-16": ("iso-8859-16",),
    "cp1250": ("windows-1250", "cp1250", "x-cp1250"),
    "cp1251": ("windows-1251", "cp1251", "x-cp1251"),
    "cp1253": ("windows-1253", "cp1253", "x-cp1253"),
    "cp1254": ("windows-1254", "cp1254", "x-cp1254", "iso-8859-9", "iso8859-9", "latin5", "l5"),
    "cp1255": ("windows-1255", "cp1255", "x-cp1255"),
    "cp1256": ("windows-1256", "cp1256", "x-cp1256"),
    "cp1257": ("windows-1257", "cp1257", "x-cp1257"),
    "cp1258": ("windows-1258", "cp1258", "x-cp1258"),
    "cp874": ("windows-874", "tis-620", "iso-8859-11", "iso8859-11", "dos-874"),
    "koi8-r": ("koi8-r", "koi8_r", "koi8", "koi", "cskoi8r"),
    "koi8-u": ("koi8-u", "koi8-ru"),
    "mac-roman": ("macintosh", "mac", "x-mac-roman", "csmacintosh"),
    "mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "cp866": ("ibm866", "866", "cp866", "csibm866"),
    "gb18030": ("gb18030", "gbk", "gb2312", "x-gbk", "chinese", "csgb2312", "iso-ir-58", "gb_2312-80"),
    "big5hkscs": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    "euc_jp": ("euc-jp", "cseucpkdfmtjapanese", "x-euc-jp"),
    "iso2022_jp": ("iso-2022-jp", "csiso2022jp"),
    "cp932": ("shift_jis", "shift-jis", "sjis", "windows-31j", "ms932", "ms_kanji", "x-sjis", "csshiftjis"),
    "cp949": ("euc-kr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949", "korean"),
    "utf-16-le": ("utf-16le", "utf-16"),
    "utf-16-be": ("utf-16be",),
    REPLACEMENT: ("iso-2022-kr", "csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "replacement"),
}
_LABELS: Final = {label: codec for codec, labels in _ENCODINGS.items() for label in labels}
_UTF16: Final = frozenset({"utf-16-le", "utf-16-be"})

_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.S)
_META = re.compile(rb"<meta[\s/][^>]*+", re.I)
_ATTR = re.compile(rb"""([^\s/>=][^\s/>=]*+)(?:\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s>]*+)))?""")
_CONTENT_CHARSET = re.compile(rb"""charset\s*+=\s*+["']?\s*+([^\s"';]++)""", re.I)


def lookup(label: str | bytes | None) -> str | None:
    """The Python codec for a WHATWG encoding label, or None when browsers do not know it."""
    if label is None:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    return _LABELS.get(label.strip().strip("\"'").lower())


def detect_charset(body: bytes, header_charset: str | None) -> str:
    """BOM > header charset > <meta> prescan > utf-8, as a Python codec name."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return bom_codec
    codec = lookup(header_charset) or _prescan(body[:PRESCAN_BYTES])
    if codec is None:
        return "utf-8"
    # A <meta> saying UTF-16 in ASCII-compatible bytes is wrong (WHATWG); a header may say it.
    if codec in _UTF16 and lookup(header_charset) is None:
        return "utf-8"
    return codec


def _prescan(head: bytes) -> str | None:
    head = _COMMENT.sub(b"", head)
    for meta in _META.finditer(head):
        attrs: dict[bytes, bytes] = {}
        for attr in _ATTR.finditer(meta.group(), 5):
            value = attr.group(2) or attr.group(3) or attr.group(4) or b""
            attrs.setdefault(attr.group(1).lower(), value)
        # <meta charset=x> names it directly; content="...; charset=x" counts only with
        # http-equiv=content-type beside it.
        label: bytes | None = attrs.get(b"charset")
        if label is None and attrs.get(b"http-equiv", b"").strip().lower() == b"content-type":
            found = _CONTENT_CHARSET.search(attrs.get(b"content", b""))
            label = found.group(1) if found else None
        codec = lookup(label)
        if codec is not None:
            return codec
    return None


def decode_html(body: bytes, codec: str) -> str:
    """Text of an HTML body in ``codec`` (from ``detect_charset``); a leading BOM is dropped."""
    return decode_text(body, codec)


def decode_text(body: bytes, codec: str) -> str:
    """Text of a body in ``codec`` (a name ``lookup`` returned), never raising: errors are
    replaced, the replacement encoding gives one U+FFFD, a leading BOM of ``codec`` goes."""
    if codec == REPLACEMENT:
        return "\ufffd" if body else ""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom) and bom_codec == codec:
            body = body[len(bom) :]
            break
    try:
        text = body.decode(codec, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    return text[1:] if text.startswith("\ufeff") else text
