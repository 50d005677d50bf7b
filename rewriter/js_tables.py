"""Tables for ``rewriter/js.py``: which tree-sitter JavaScript nodes bind, write, call or scope.

Node and field names are those of the tree-sitter-javascript grammar (0.25). Reviewed like data:
a node kind missing here is treated as a plain read, which the tests would show as a rewrite
in a place that must stay a name.
"""

from __future__ import annotations

from typing import Final

# Nodes whose own text is a variable name (the others, property_identifier and
# statement_identifier, are keys and labels).
NAME_NODES: Final = frozenset(
    {"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"}
)

# Declarations that name something with one field, and where that name is bound:
# "function" = the nearest function (or program), "block" = the nearest block,
# "self" = inside the node itself (a named function expression sees its own name).
NAMED_BY: Final = {
    "function_declaration": "name",
    "generator_function_declaration": "name",
    "class_declaration": "name",
    "function_expression": "name",
    "generator_function": "name",
    "class": "name",
}
NAME_SCOPE: Final = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "block",
    "function_expression": "self",
    "generator_function": "self",
    "class": "self",
}

# Parents under which an identifier is neither a binding nor a value read.
NOT_REFERENCES: Final = frozenset({"export_specifier", "labeled_statement", "meta_property"})

IMPORTS: Final = frozenset({"import_specifier", "namespace_import", "import_clause"})

# Destructuring pattern nodes that an identifier may sit inside.
PATTERN_NODES: Final = frozenset(
    {"object_pattern", "array_pattern", "pair_pattern", "assignment_pattern", "rest_pattern"}
)

FUNCTION_SCOPES: Final = frozenset(
    {
        "function_declaration",
        "function_expression",
        "generator_function_declaration",
        "generator_function",
        "arrow_function",
        "method_definition",
        "class_static_block",
        "program",
    }
)
BLOCK_SCOPES: Final = FUNCTION_SCOPES | frozenset(
    {"statement_block", "for_statement", "for_in_statement", "switch_body", "class_body"}
)

# Parents whose `left` is written: a plain or compound assignment.
WRITES: Final = frozenset({"assignment_expression", "augmented_assignment_expression"})

# Parents whose operand must stay a reference (or is never a Location worth wrapping).
LEAVE_OPERAND: Final = frozenset({"update_expression", "for_in_statement"})

# `delete x.location` is a unary_expression; handled in js.py by the operator.
CALLS: Final = frozenset({"call_expression"})
MEMBERS: Final = frozenset({"member_expression", "subscript_expression"})
CHAINS: Final = frozenset({"member_expression", "subscript_expression", "call_expression"})

# `X.eval(code)` is the global eval (so its code is rewritten) when X names the global object.
GLOBAL_OBJECTS: Final = frozenset({"window", "self", "globalThis", "top", "parent", "frames"})
# Arguments of eval that are never code: eval returns them as they are.
INERT_LITERALS: Final = frozenset(
    {"number", "true", "false", "null", "undefined", "regex", "object", "array"}
    | {"arrow_function", "function_expression"}
)

# The MIME types a browser runs as a classic script: HTML's "JavaScript MIME type essence
# match" list (a <script type>, a response's Content-Type).
JS_MIME_TYPES: Final = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)
