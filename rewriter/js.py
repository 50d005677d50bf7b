"""JavaScript rewriting: route a script's references to ``location`` through the runtime.

Chromium makes ``window.location``, ``document.location`` and every member of a Location
[LegacyUnforgeable], so a page that reads ``location.hostname`` through the proxy would see the
proxy's host. The runtime (``static/runtime/45-jsglue.js``) defines three global functions (and
``__cb$rw``, ``__cb$po`` for calls) and this module rewrites scripts to call them, as every
proxy of this kind does (pywb's wombat, Ultraviolet, Scramjet, hammerhead):

* a read of ``location`` (the free global, not a local binding) or of ``X.location`` /
  ``X["location"]`` becomes ``__cb$loc(...)`` around the same expression; the runtime returns
  the stand-in with the real values when the value is a real Location and the value itself
  otherwise, so ``props.location`` of plain objects keeps working;
* ``location = v`` (and ``+=`` ...) becomes ``__cb$loc(location).href = v``;
* ``X.location = v`` becomes ``__cb$set(X).location = v``: for a window or document the
  runtime hands back a target whose ``location`` setter navigates through the proxy, and ``X``
  itself otherwise;
* ``const {location} = window`` (any object pattern keyed ``location``, in a declaration or an
  assignment) wraps its value in ``__cb$pat(...)``, which reads ``location`` as the stand-in;
* the code of ``eval(code)`` becomes ``__cb$rw(code)``, which the runtime rewrites before it
  runs (via ``POST /__cb/js``), the target origin of ``postMessage(m, origin)`` becomes
  ``__cb$po(origin)``, mapped into the proxy space, the specifier of ``import(x)`` becomes
  ``__cb$im(x)`` and ``import.meta`` becomes ``__cb$me(import.meta)``: ``rewriter/js_calls.py``
  finds those (and says why the callee of eval is never touched).

``rewrite_js_body`` does the same for a function body (an event-handler attribute, a
``new Function`` body; a ``javascript:`` URL's code is a classic script): parsed inside ``(function(){...})``, so
``return`` is legal and a ``var location`` there is a local.

The rules (which node kinds bind, which parents make a write) are data in ``rewriter/js_tables.py``.

Invariants:

* A script in which none of the bytes ``location``, ``eval``, ``postMessage``, ``import(``,
  ``import.meta`` occur is returned as the same object, without being parsed (the hot path:
  most scripts).
* A script that does not parse without error is returned unchanged (fail open).
* A changed script starts (after its directives) with ``PROLOGUE``, which makes the three
  functions the identity where the runtime is absent, so a rewritten script never fails for
  want of them (workers get no runtime, yet load scripts as ``Sec-Fetch-Dest: script``).
* Edits are insertions of whole tokens plus, in optional chains, ``.`` -> ``?.``; every byte
  outside them is kept in place, comments and source-map comments included. Each insertion
  turns an expression into a call on the same expression, so output parses whenever input
  does (checked by the tests with the same parser).
* Pure: no I/O, no state between calls.

Where it runs: ``rewriter/body.py`` sends the bodies of scripts a page loads
(``Sec-Fetch-Dest: script``) here and ``rewriter/html.py`` the inline classic and module
scripts, event-handler attributes and ``javascript:`` URLs, both through the server's
``rewriter/js_cache.py``; ``proxy/jsendpoint.py`` the code the runtime builds at run time.
External scripts are rewritten as classic scripts (the request does not say which they are): a module's own top-level
``location`` binding is then read through ``__cb$loc``, which hands it back unchanged.

Not covered (the runtime's native ``navigate`` fallback still maps the navigations): writes
to a bare ``location`` inside ``with`` blocks and through destructuring assignment targets;
patterns in function parameters; names built at run time (``window["loc" + "ation"]``) and
identifiers spelled with escapes; ``x instanceof Location`` (the stand-in is not one);
``obj.eval(code)`` on anything but the global object's names, an eval reached through an
alias (``const e = eval; e(code)``), ``postMessage`` called through ``call``/``apply``.
Code built at run time through ``new Function``, string timers and script text is rewritten
by the runtime (part 47), not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from rewriter import js_tables as T
from rewriter.js_calls import EVAL, HELPERS, IMPORT, POST_MESSAGE, REWRITE, call_wraps

__all__ = [
    "NAME",
    "may_rewrite",
    "may_rewrite_text",
    "on_text",
    "parses",
    "rewrite_js",
    "rewrite_js_body",
    "rewrite_js_body_bytes",
    "rewrite_js_bytes",
]

NAME: Final = b"location"
_LANGUAGE: Final = Language(tree_sitter_javascript.language())

READ: Final = "__cb$loc"
SET: Final = "__cb$set"
PATTERN: Final = "__cb$pat"
# Put after the directive prologue of every script that was changed: where the runtime is not
# (a worker's importScripts, which Chromium fetches as Sec-Fetch-Dest: script like a page's
# script; a blob worker; a realm whose runtime failed) the calls become the identity, so the
# script runs as it would have unrewritten. One line, so line numbers do not move.
PROLOGUE: Final = (
    f';if(typeof {READ}>"u")globalThis.{READ}=globalThis.{SET}=globalThis.{PATTERN}=function(v){{return v}};'
).encode()
# Added to PROLOGUE for each helper of rewriter/js_calls.py a script calls.
EVAL_PROLOGUE: Final = HELPERS[REWRITE]
# eval or postMessage as a whole name, before what can follow a callee: "(", or ")" / "?." /
# "," of `(0, eval)(x)` / `eval?.(x)` / `[eval, ...]`; or `import(` / `import.meta`; comments
# in between are not looked for.
_CALL_HINT_TEXT: Final = re.compile(
    r"(?<![\w$])(?:eval|postMessage)(?![\w$])\s*[(),?]|(?<![\w$.])import\s*(?:\(|\.\s*meta(?![\w$]))")
_CALL_HINT: Final = re.compile(_CALL_HINT_TEXT.pattern.encode())
# A function body (event-handler attribute, ``javascript:`` URL, ``new Function``) is parsed
# inside this wrapper, so ``return`` is legal and its ``var location`` is a local.
_BODY_HEAD: Final = b"(function(){"
_BODY_TAIL: Final = b"\n})"


@dataclass(frozen=True, slots=True, order=True)
class _Edit:
    """Replace ``data[start:end]`` with ``text``; ties at one position sorted by ``rank``."""

    start: int
    rank: int
    end: int
    text: bytes


def parses(data: bytes) -> bool:
    """True if the grammar parses ``data`` without an error node (the tests' oracle too)."""
    return not Parser(_LANGUAGE).parse(data).root_node.has_error


def may_rewrite(data: bytes) -> bool:
    """False when the script surely comes out unchanged (no parse needed): ``location`` does
    not occur, nor ``eval``/``postMessage`` as a name that could be called."""
    return NAME in data or (
        (EVAL in data or POST_MESSAGE in data or IMPORT in data) and _CALL_HINT.search(data) is not None
    )


def may_rewrite_text(source: str) -> bool:
    """``may_rewrite`` for text."""
    return "location" in source or (
        ("eval" in source or "postMessage" in source or "import" in source)
        and _CALL_HINT_TEXT.search(source) is not None
    )


def rewrite_js(source: str, *, module: bool = False) -> str:
    """Rewrite script text; see the module docstring. ``module`` marks an ES module."""
    return on_text(source, lambda data: rewrite_js_bytes(data, module=module))


def rewrite_js_body(source: str) -> str:
    """Rewrite the text of a function body: an event-handler attribute, a ``javascript:`` URL's
    code, a ``new Function`` body. Parsed inside a function, so ``return`` is legal there."""
    return on_text(source, rewrite_js_body_bytes)


def on_text(source: str, rewrite: Callable[[bytes], bytes]) -> str:
    """Run a bytes rewriter on text: the same ``str`` back when nothing changed."""
    if not may_rewrite_text(source):
        return source
    try:
        data = source.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not a script a browser was sent
        return source
    out = rewrite(data)
    return source if out is data else out.decode("utf-8")


def rewrite_js_bytes(data: bytes, *, module: bool = False) -> bytes:
    """Rewrite UTF-8 script bytes; returns ``data`` itself when nothing changed."""
    if not may_rewrite(data):
        return data
    root = Parser(_LANGUAGE).parse(data).root_node
    if root.has_error:
        return data
    rewriter = _Rewriter(data, root, module)
    edits = rewriter.edits()
    if not edits:
        return data
    at = _after_directives(data, root.children, 0)
    edits.append(_Edit(at, -len(data) - 1, at, rewriter.prologue()))
    return _apply(data, edits)


def rewrite_js_body_bytes(body: bytes) -> bytes:
    """``rewrite_js_body`` on UTF-8 bytes; returns ``body`` itself when nothing changed."""
    if not may_rewrite(body):
        return body
    data = _BODY_HEAD + body + _BODY_TAIL
    root = Parser(_LANGUAGE).parse(data).root_node
    block = _wrapped_body(root)
    if root.has_error or block is None:
        return body
    rewriter = _Rewriter(data, root, False)
    edits = rewriter.edits()
    if not edits:
        return body
    at = _after_directives(data, block.children, len(_BODY_HEAD))
    edits.append(_Edit(at, -len(data) - 1, at, rewriter.prologue()))
    out = _apply(data, edits)
    return out[len(_BODY_HEAD) : len(out) - len(_BODY_TAIL)]


def _wrapped_body(root: Node) -> Node | None:
    """The statement block of ``(function(){...})``, if the body did not break out of it."""
    if root.named_child_count != 1:
        return None
    statement = root.named_children[0]
    paren = statement.named_children[0] if statement.named_child_count == 1 else None
    function = paren.named_children[0] if paren is not None and paren.named_child_count == 1 else None
    if function is None or function.type != "function_expression":
        return None
    block = function.child_by_field_name("body")
    if block is None or block.start_byte != len(_BODY_HEAD) - 1 or block.end_byte != root.end_byte - 1:
        return None
    return block


def _after_directives(data: bytes, children: list[Node], at: int) -> int:
    """Where a statement can go without ending the directive prologue (``"use strict"``) of
    a program or function body whose ``children`` start at ``at``."""
    for child in children:
        if child.type in ("{", "}"):
            continue
        if child.type == "hash_bang_line":
            newline = data.find(b"\n", child.end_byte)
            at = len(data) if newline < 0 else newline + 1
        elif child.type == "expression_statement" and [c.type for c in child.named_children] == ["string"]:
            at = child.end_byte
        elif child.type != "comment":
            break
    return at


def _apply(data: bytes, edits: list[_Edit]) -> bytes:
    parts: list[bytes] = []
    at = 0
    for e in sorted(edits):
        if e.start < at:  # overlapping replacement (cannot happen with our rules): keep source
            continue
        parts.append(data[at : e.start])
        parts.append(e.text)
        at = e.end
    parts.append(data[at:])
    return b"".join(parts)


def _is_field(parent: Node, field: str, child: Node) -> bool:
    found = parent.child_by_field_name(field)
    return found is not None and found.id == child.id


def _text(data: bytes, node: Node) -> bytes:
    return data[node.start_byte : node.end_byte]


def _is_location_key(data: bytes, node: Node) -> bool:
    """``location`` as written as a property key or a subscript: name, string, plain template."""
    if node.type == "property_identifier":
        return _text(data, node) == NAME
    if node.type in ("string", "template_string") and node.named_child_count <= 1:
        inner = data[node.start_byte + 1 : node.end_byte - 1]
        return inner == NAME and all(c.type == "string_fragment" for c in node.named_children)
    return False


class _Rewriter:
    """One pass over the occurrences of the bytes ``location`` in one parsed script."""

    def __init__(self, data: bytes, root: Node, module: bool) -> None:
        self.data = data
        self.root = root
        self.module = module
        self.out: list[_Edit] = []
        self.shadowing: set[int] = set()  # ids of scope nodes that declare a local `location`
        self.helpers: set[str] = set()  # the helpers of js_calls the edits call

    def edits(self) -> list[_Edit]:
        if EVAL in self.data or POST_MESSAGE in self.data or IMPORT in self.data:
            for wrap in call_wraps(self.data, self.root):
                self.helpers.add(wrap.helper)
                size = wrap.end - wrap.start
                self._insert(wrap.start, f"{wrap.helper}(", -size)
                self._insert(wrap.end, ")", size)
        if NAME not in self.data:
            return self.out
        nodes = self._occurrences()
        references: list[Node] = []
        for node in nodes:
            if node.type in ("identifier", "shorthand_property_identifier_pattern"):
                if not self._declaration(node):
                    references.append(node)
            elif node.type == "shorthand_property_identifier":
                references.append(node)
            else:
                self._member(node)
        for node in references:
            if not self._local(node):
                self._reference(node)
        return self.out

    def prologue(self) -> bytes:
        return PROLOGUE + b"".join(HELPERS[name] for name in sorted(self.helpers))

    # -- finding ---------------------------------------------------------------------------

    def _occurrences(self) -> list[Node]:
        """The name, key and member nodes whose text is ``location``, each once."""
        found: list[Node] = []
        seen: set[int] = set()
        start = self.data.find(NAME)
        while start >= 0:
            end = start + len(NAME)
            node = self.root.named_descendant_for_byte_range(start, end)
            start = self.data.find(NAME, end)
            if node is None:
                continue
            if node.type == "string_fragment" and node.parent is not None:
                node = node.parent
            target = self._classify(node)
            if target is not None and target.id not in seen:
                seen.add(target.id)
                found.append(target)
        return found

    def _classify(self, node: Node) -> Node | None:
        """The node to act on for an occurrence, or None when it is no reference at all."""
        if node.type in T.NAME_NODES:
            return node if _text(self.data, node) == NAME else None
        parent = node.parent
        if parent is None or not _is_location_key(self.data, node):
            return None
        if parent.type == "member_expression" and _is_field(parent, "property", node):
            return parent
        if parent.type == "subscript_expression" and _is_field(parent, "index", node):
            return parent
        if parent.type == "pair_pattern" and _is_field(parent, "key", node):
            return node
        return None

    # -- bindings ------------------------------------------------------------------------

    def _pattern_owner(self, node: Node) -> tuple[Node, Node, bool]:
        """Climb out of destructuring patterns: (owner, the child of owner, went through one)."""
        child = node
        parent = node.parent
        through = False
        while parent is not None and parent.type in T.PATTERN_NODES:
            if parent.type == "pair_pattern" and not _is_field(parent, "value", child):
                break
            if parent.type == "assignment_pattern" and not _is_field(parent, "left", child):
                break
            through = True
            child, parent = parent, parent.parent
        assert parent is not None
        return parent, child, through

    def _declaration(self, node: Node) -> bool:
        """True (and its scope recorded) if ``node`` declares a binding or is a write target
        we leave alone; False if it is a plain reference."""
        parent = node.parent
        if parent is None:
            return False
        if parent.type == "pair_pattern":  # `{location: x} = v`: a key, its value is elsewhere
            return True
        if node.type == "shorthand_property_identifier_pattern":
            # `const {location} = window` binds a local; `({location} = w)` writes the global,
            # which the navigate fallback maps, so only the declaration's value is wrapped.
            self._pattern_source(parent, assignments=False)
        if parent.type in T.NAMED_BY and _is_field(parent, T.NAMED_BY[parent.type], node):
            self._declare(parent, T.NAME_SCOPE[parent.type])
            return True
        if parent.type in T.NOT_REFERENCES:
            return True
        owner, child, through = self._pattern_owner(node)
        kind = owner.type
        if kind == "variable_declarator" and _is_field(owner, "name", child):
            declaration = owner.parent
            scope = "function" if declaration is not None and declaration.type == "variable_declaration" else "block"
            self._declare(owner, scope)
            return True
        if kind == "formal_parameters" or (kind == "arrow_function" and _is_field(owner, "parameter", child)):
            function = owner.parent if kind == "formal_parameters" else owner
            if function is not None:
                self.shadowing.add(function.id)
            return True
        if kind == "catch_clause" and _is_field(owner, "parameter", child):
            self.shadowing.add(owner.id)
            return True
        if kind in ("for_in_statement",) and _is_field(owner, "left", child):
            if owner.child_by_field_name("kind") is not None:
                keyword = owner.child_by_field_name("kind")
                self._declare(owner, "function" if keyword is not None and keyword.type == "var" else "block")
            return True
        if kind in T.IMPORTS:
            alias = owner.child_by_field_name("alias") if kind == "import_specifier" else None
            if alias is None or alias.id == node.id:  # `import {location as x}` binds x only
                self._declare(owner, "program")
            return True
        # A destructuring assignment target (`[location] = ...`): a write we leave alone.
        return through

    def _declare(self, at: Node, scope: str) -> None:
        node: Node | None = at if scope == "self" else at.parent
        wanted = T.FUNCTION_SCOPES if scope == "function" else T.BLOCK_SCOPES
        while node is not None and node.type not in wanted and node.type != "program":
            node = node.parent
        if node is None:
            return
        if node.type == "program" and not self.module:
            return  # a classic script's global `var location` is window.location itself
        self.shadowing.add(node.id)

    def _local(self, node: Node) -> bool:
        scope = node.parent
        while scope is not None:
            if scope.id in self.shadowing:
                return True
            scope = scope.parent
        return False

    def _in_with(self, node: Node) -> bool:
        scope = node.parent
        while scope is not None:
            if scope.type == "with_statement":
                return True
            if scope.type in T.FUNCTION_SCOPES:
                return False
            scope = scope.parent
        return False

    # -- edits ---------------------------------------------------------------------------

    def _insert(self, at: int, text: str, rank: int) -> None:
        self.out.append(_Edit(at, rank, at, text.encode()))

    def _wrap(self, node: Node, before: str, after: str = ")") -> None:
        # Enclosing wraps open first and close last: rank by span length.
        size = node.end_byte - node.start_byte
        self._insert(node.start_byte, before, -size)
        self._insert(node.end_byte, after, size)

    def _read(self, node: Node) -> None:
        """Wrap a value read in ``__cb$loc(...)``; keep ``new`` and optional chains intact."""
        if self._new_callee(node):
            self._wrap(node, f"({READ}(", "))")
        else:
            self._wrap(node, f"{READ}(")
        self._continue_chain(node)

    def _reference(self, node: Node) -> None:
        parent = node.parent
        assert parent is not None
        if node.type == "shorthand_property_identifier":  # `{location}` in an object literal
            self._wrap(node, f"location: {READ}(")
            return
        if parent.type in T.WRITES and _is_field(parent, "left", node):
            if not self._in_with(node):  # in `with (o)`, `location = v` may mean `o.location = v`
                self._wrap(node, f"{READ}(", ").href")
            return
        if self._left_alone(node):
            return
        self._read(node)

    def _member(self, node: Node) -> None:
        """``X.location`` / ``X["location"]`` or a ``location`` key in an object pattern."""
        if node.type == "property_identifier":  # key of a pair_pattern
            pair = node.parent
            if pair is not None and pair.parent is not None:
                self._pattern_source(pair.parent)
            return
        parent = node.parent
        obj = node.child_by_field_name("object")
        if parent is None or obj is None:
            return
        if parent.type in T.WRITES and _is_field(parent, "left", node):
            if not self._optional(node):
                self._wrap(obj, f"{SET}(")
            return
        if self._left_alone(node) or parent.type in T.PATTERN_NODES:
            return
        self._read(node)

    def _left_alone(self, node: Node) -> bool:
        """Operands that must stay references (``delete``, ``++``, ``for (x in``) and callees."""
        parent = node.parent
        if parent is None or parent.type in T.LEAVE_OPERAND or self._callee(node):
            return True
        if parent.type == "unary_expression":
            operator = parent.child_by_field_name("operator")
            return operator is not None and operator.type == "delete"
        return False

    def _pattern_source(self, pattern: Node, *, assignments: bool = True) -> None:
        """``{location: l} = v``: read ``v`` through ``__cb$pat`` (top-level patterns only)."""
        owner = pattern.parent
        if pattern.type != "object_pattern" or owner is None:
            return
        if owner.type == "variable_declarator" and _is_field(owner, "name", pattern):
            value = owner.child_by_field_name("value")
        elif assignments and owner.type == "assignment_expression" and _is_field(owner, "left", pattern):
            value = owner.child_by_field_name("right")
        else:
            return  # nested patterns and parameters: not covered
        if value is not None:
            self._wrap(value, f"{PATTERN}(")

    def _callee(self, node: Node) -> bool:
        parent = node.parent
        return parent is not None and parent.type in T.CALLS and _is_field(parent, "function", node)

    def _new_callee(self, node: Node) -> bool:
        """True if ``node`` is in the callee chain of ``new``: ``new a.location.B()``."""
        child = node
        parent = node.parent
        while parent is not None and parent.type in T.MEMBERS and _is_field(parent, "object", child):
            child, parent = parent, parent.parent
        return parent is not None and parent.type == "new_expression" and _is_field(parent, "constructor", child)

    def _optional(self, node: Node) -> bool:
        """True if the chain ending at ``node`` short-circuits somewhere (``a?.b.location``)."""
        current: Node | None = node
        while current is not None and current.type in T.CHAINS:
            if current.child_by_field_name("optional_chain") is not None:
                return True
            current = current.child_by_field_name("object") or current.child_by_field_name("function")
        return False

    def _continue_chain(self, node: Node) -> None:
        """``a?.location.href``: after the wrap the chain must still short-circuit."""
        if not self._optional(node):
            return
        parent = node.parent
        if parent is None or not _is_field(parent, "object", node) or parent.child_by_field_name("optional_chain"):
            return
        if parent.type == "member_expression":
            for child in parent.children:
                if child.type == ".":
                    size = node.end_byte - node.start_byte
                    self.out.append(_Edit(child.start_byte, size + 1, child.end_byte, b"?."))
                    return
        elif parent.type == "subscript_expression":
            self._insert(node.end_byte, "?.", node.end_byte - node.start_byte + 1)
