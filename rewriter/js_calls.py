"""Calls whose arguments the runtime must see: the code of ``eval``, the target origin of
``postMessage``, the specifier of ``import()``; and ``import.meta``. Part of ``rewriter/js.py``,
which turns what this finds into edits.

* ``eval(code)``, ``(eval)(code)``, ``(0, eval)(code)``, ``window.eval(code)`` (and the other
  names of the global object): ``code`` becomes ``__cb$rw(code)``, which the runtime rewrites
  before it runs. The callee is left as written: a direct eval is direct only while its callee
  is the name ``eval`` bound to the real eval, so the runtime never wraps ``window.eval``.
* ``X.postMessage(message, targetOrigin)`` and ``postMessage(message, targetOrigin)``: the
  second argument becomes ``__cb$po(targetOrigin)``, which maps a real origin (or an options
  object's ``targetOrigin``) to its proxy origin: a window's message is delivered only if the
  target origin names the receiving document's origin, which through the proxy is a proxy
  origin. The runtime cannot hook a cross-origin window's ``postMessage`` (the caller reaches
  the other realm's native), hence the rewrite. Anything else (a port's or a worker's transfer
  list, ``"*"``, ``"/"``) the runtime hands back unchanged.
* ``import(specifier)``: the specifier becomes ``__cb$im(specifier)``, which maps an absolute
  real URL to its proxy URL (``import()`` is syntax: no hook reaches it); relative and bare
  specifiers resolve as they would, so string literals that are neither absolute nor
  scheme-relative are left alone.
* ``import.meta`` becomes ``__cb$me(import.meta)``: the same object, its ``url`` (and what
  ``resolve`` returns) read as real URLs, as the module would see them directly; code that
  builds URLs from it (``new URL('./x.wasm', import.meta.url)``) then hands real URLs to
  sinks the runtime maps.

Literals that cannot need the runtime (numbers, ``"*"``, eval code naming none of
``location``, ``eval``, ``postMessage``, relative module specifiers) are left alone, so common
calls stay byte-identical.
Pure: finds spans in a parsed tree; no state between calls.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from tree_sitter import Node

from rewriter import js_tables as T

__all__ = ["EVAL", "HELPERS", "IMPORT", "IMPORT_CALL", "META", "POST", "POST_MESSAGE", "REWRITE", "Wrap",
           "call_wraps"]

EVAL: Final = b"eval"
POST_MESSAGE: Final = b"postMessage"
REWRITE: Final = "__cb$rw"
POST: Final = "__cb$po"
IMPORT: Final = b"import"
IMPORT_CALL: Final = "__cb$im"
META: Final = "__cb$me"
_IMPORT_META: Final = b"import.meta"
# Each helper's line for the prologue of a script that calls it: the identity where the
# runtime is absent, tested apart so a runtime that lacks only this one is completed.
HELPERS: Final = {
    name: f';if(typeof {name}>"u")globalThis.{name}=function(v){{return v}};'.encode()
    for name in (REWRITE, POST, IMPORT_CALL, META)
}
_LOCATION: Final = b"location"
# Target origins that mean the same through the proxy ("*": any; "/": the sender's own).
_SAME_TARGETS: Final = frozenset({b'"*"', b"'*'", b'"/"', b"'/'"})
# A module specifier that names a network URL: absolute with a scheme, or scheme-relative.
_NETWORK_SPECIFIER: Final = re.compile(rb"^[`'\"]\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")


class Wrap(NamedTuple):
    """Wrap ``data[start:end]`` (one argument) in a call of ``helper``."""

    start: int
    end: int
    helper: str


def call_wraps(data: bytes, root: Node) -> list[Wrap]:
    """The argument wraps of every eval and postMessage call in a parsed script."""
    out: list[Wrap] = []
    for name, argument, helper in ((EVAL, 0, REWRITE), (POST_MESSAGE, 1, POST)):
        start = data.find(name)
        while start >= 0:
            end = start + len(name)
            node = root.named_descendant_for_byte_range(start, end)
            start = data.find(name, end)
            if node is None or data[node.start_byte : node.end_byte] != name:
                continue
            call = _call_of(data, node, global_only=name == EVAL)
            arg = _argument(call, argument) if call is not None else None
            if arg is not None and not _inert(data, arg, helper):
                out.append(Wrap(arg.start_byte, arg.end_byte, helper))
    start = data.find(IMPORT)
    while start >= 0:
        end = start + len(IMPORT)
        node = root.named_descendant_for_byte_range(start, end)
        start = data.find(IMPORT, end)
        wrap = _import_wrap(data, node) if node is not None else None
        if wrap is not None:
            out.append(wrap)
    return out


def _import_wrap(data: bytes, node: Node) -> Wrap | None:
    """``import.meta`` itself, or the specifier of an ``import(...)`` call that may be absolute."""
    if node.type == "meta_property":
        is_meta = data[node.start_byte : node.end_byte] == _IMPORT_META
        return Wrap(node.start_byte, node.end_byte, META) if is_meta else None
    parent = node.parent
    if node.type != "import" or parent is None or parent.type != "call_expression":
        return None
    arg = _argument(parent, 0)
    if arg is None:
        return None
    literal = arg.type == "string" or (arg.type == "template_string" and all(
        c.type == "string_fragment" for c in arg.named_children))
    if literal and not _NETWORK_SPECIFIER.match(data[arg.start_byte : arg.end_byte]):
        return None
    return Wrap(arg.start_byte, arg.end_byte, IMPORT_CALL)


def _call_of(data: bytes, node: Node, *, global_only: bool) -> Node | None:
    """The call whose callee is this name: bare, parenthesised, last in a sequence, or a
    member (of a global object's name only, when ``global_only``)."""
    callee = node
    parent = node.parent
    if node.type == "property_identifier":
        obj = parent.child_by_field_name("object") if parent is not None else None
        if parent is None or parent.type != "member_expression" or obj is None:
            return None
        if global_only and (obj.type != "identifier" or data[obj.start_byte : obj.end_byte].decode()
                            not in T.GLOBAL_OBJECTS):
            return None
        callee, parent = parent, parent.parent
    elif node.type == "identifier":
        if parent is not None and parent.type == "sequence_expression" and parent.children[-1].id == node.id:
            callee, parent = parent, parent.parent
        while parent is not None and parent.type == "parenthesized_expression":
            callee, parent = parent, parent.parent
    else:
        return None
    if parent is None or parent.type not in T.CALLS:
        return None
    function = parent.child_by_field_name("function")
    return parent if function is not None and function.id == callee.id else None


def _argument(call: Node, index: int) -> Node | None:
    arguments = call.child_by_field_name("arguments")
    if arguments is None or arguments.type != "arguments":
        return None  # a tagged template
    args = [c for c in arguments.named_children if c.type != "comment"]
    if len(args) <= index or any(a.type == "spread_element" for a in args[: index + 1]):
        return None
    return args[index]


def _inert(data: bytes, arg: Node, helper: str) -> bool:
    text = data[arg.start_byte : arg.end_byte]
    if helper == POST:
        return text in _SAME_TARGETS or arg.type in ("number", "array", "null", "undefined")
    if arg.type in T.INERT_LITERALS:
        return True
    return arg.type == "string" and not any(name in text for name in (_LOCATION, EVAL, POST_MESSAGE))
