"""The shared schemas of the OpenAPI document (``components.schemas``), as JSON Schema 2020-12 data.

Fragments refer to them as ``#/components/schemas/<Name>``. They describe what the server
answers today and leave room to grow: objects allow properties not listed (a client must
ignore what it does not know), and fields that later work adds are listed but not required.
"""

from __future__ import annotations

from typing import Any

_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_MAYBE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An error (RFC 9457). `detail` says what to do; `error` repeats it for older clients.",
        "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer", "minimum": 400, "maximum": 599},
                       "detail": {"type": "string"}, "error": {"type": "string"}},
    },
    "Agent": {
        "type": "object",
        "properties": {"id": {"type": "string", "maxLength": 200}, "name": {"type": "string", "maxLength": 200}},
    },
    "Branding": {
        "type": "object",
        "properties": {"naked": {"type": "boolean"}, "no_bottom_bar": {"type": "boolean"},
                       "retry_url": {"type": ["string", "null"]}},
    },
    "SessionOptions": {
        "type": "object",
        "description": "A session's options; unset ones are the server's defaults.",
        "properties": {
            "allow_domains": _STRINGS, "deny_domains": _STRINGS,
            "view_only": {"type": "boolean"}, "consent": {"type": "boolean"},
            "mask_selectors": _STRINGS, "hide_selectors": _STRINGS,
            "require_approval": {"type": "boolean"},
            "max_followers": {"type": ["integer", "null"], "minimum": 0},
            "expires_in": {"type": ["number", "null"], "minimum": 0},
            "idle_timeout": {"type": ["number", "null"], "minimum": 0},
            "end_redirect_url": {"type": "string"},
            "branding": {"$ref": "#/components/schemas/Branding"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Participant": {
        "type": "object",
        "required": ["id", "role", "name"],
        "properties": {"id": {"type": "string"}, "role": {"enum": ["leader", "follower"]},
                       "name": {"type": "string"},
                       "status": {"enum": ["waiting", "active", "left", "removed"]},
                       "joined_at": _MAYBE_TIME},
    },
    "Session": {
        "type": "object",
        "required": ["id", "url", "status", "created_at", "expires_at", "participants", "controller", "options"],
        "properties": {
            "id": {"type": "string"}, "url": {"type": "string"}, "status": {"enum": ["live", "ended"]},
            "agent": {"$ref": "#/components/schemas/Agent"},
            "created_at": _TIME, "expires_at": _TIME, "ended_at": _MAYBE_TIME,
            "participants": {"type": "array", "items": {"$ref": "#/components/schemas/Participant"}},
            "controller": {"type": ["string", "null"]},
            "options": {"$ref": "#/components/schemas/SessionOptions"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "CreatedSession": {
        "description": "A new session with its entry links (the leader's is single-use and short-lived).",
        "allOf": [{"$ref": "#/components/schemas/Session"},
                  {"type": "object", "required": ["leader_url", "follower_url"],
                   "properties": {"leader_url": {"type": "string", "format": "uri"},
                                  "follower_url": {"type": "string", "format": "uri"}}}],
    },
    "SessionCreate": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "description": "absolute http(s) URL the session starts on",
                    "example": "https://example.com/"},
            "agent": {"$ref": "#/components/schemas/Agent"},
            "end_redirect_url": {"type": "string"},
            "options": {"$ref": "#/components/schemas/SessionOptions"},
        },
    },
}
