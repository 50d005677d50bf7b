"""The session object: who takes part, what they were given, and the session's lifetime.

A session is created by an agent for a target URL. It holds:
- participants (the leader first; followers join through the invitation), each with a view
  tag unique in the session that its proxy hosts carry (docs/participant-hosts.md),
- outstanding single-use tickets (only their digests), each for one participant,
- outstanding single-use visitor links (only their digests, ``visitor_links``, at most
  ``MAX_VISITOR_LINKS``): a named link fixes the visitor's name; a PIN opens an unnamed one,
- the follower invitation (digest), revocable,
- origin aliases for hosts too long for a DNS label (see ``rewriter.origins``), at most
  ``MAX_ALIASES`` (they travel in every page's runtime configuration),
- the real origins a participant has reached with a credential (``reached_origins``, at most
  ``MAX_REACHED_ORIGINS``): a credential-less CORS preflight is forwarded only for a page of
  one of them,
- its lifetime: ``expires_at``, and ``ended_at`` and ``ended_reason`` once ended (its hosts
  then answer 410),
- the id of the API key that created it (``api_key_id``; ``default`` is the server's own key,
  and so is "", a session stored before keys were recorded): its events go to that key's
  webhooks and event stream (docs/webhooks.md).

The cookie jar lives beside the session in the store (it changes on every response).
Invariants: exactly one participant has role "leader"; ``controller`` names a participant.
A participant is *admitted* unless it was removed (``revoked``) or still waits for the agent's
approval (``waiting``, in a session with ``require_approval``): only admitted ones hold a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rewriter.origins import Origin
from sessions.ids import new_view
from sessions.options import SessionOptions
from sessions.seed import Seed

MAX_ALIASES = 256
MAX_REACHED_ORIGINS = 1024
MAX_VISITOR_LINKS = 100


@dataclass(slots=True)
class Participant:
    id: str
    role: str
    name: str
    joined_at: float
    external_id: str = ""
    revoked: bool = False
    view: str = ""
    waiting: bool = False

    @property
    def admitted(self) -> bool:
        return not self.revoked and not self.waiting

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "name": self.name, "joined_at": self.joined_at,
                "external_id": self.external_id, "revoked": self.revoked, "view": self.view,
                "waiting": self.waiting}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Participant:
        return cls(str(data["id"]), str(data["role"]), str(data["name"]), float(data["joined_at"]),
                   str(data.get("external_id", "")), bool(data.get("revoked", False)), str(data.get("view", "")),
                   bool(data.get("waiting", False)))


@dataclass(slots=True)
class Ticket:
    digest: str
    participant_id: str
    expires_at: float
    next_url: str


@dataclass(slots=True)
class VisitorLink:
    """A single-use way in for one visitor; ``name`` (when set) is the name it joins with."""

    digest: str
    name: str
    expires_at: float


@dataclass(slots=True)
class Session:
    id: str
    target_url: str
    created_at: float
    expires_at: float
    leader_id: str
    participants: dict[str, Participant] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    invitation_digest: str = ""
    aliases: dict[str, Origin] = field(default_factory=dict)
    controller: str = ""
    ended_at: float | None = None
    end_redirect_url: str = ""
    reached_origins: set[str] = field(default_factory=set)
    options: SessionOptions = field(default_factory=SessionOptions)
    api_key_id: str = ""
    visitor_links: dict[str, VisitorLink] = field(default_factory=dict)
    # Why it ended (``sessions.lifecycle.END_REASONS``: api, leader, expired, idle, ...); "" while live.
    ended_reason: str = ""
    # A visitor's storage and form values handed over (``sessions.seed``), given once to each
    # participant's page: ``seeded`` holds the ids of the participants whose page took it.
    seed: Seed = field(default_factory=Seed)
    seeded: set[str] = field(default_factory=set)

    def add_aliases(self, new: Mapping[str, Origin]) -> list[str]:
        """Keep the aliases of ``new`` that are not held yet, up to ``MAX_ALIASES`` in all;
        the labels refused for the cap. A label names one origin, so one already held is
        kept as it is (labels are derived from the origin: a duplicate is the same alias)."""
        refused: list[str] = []
        for label, origin in new.items():
            if label in self.aliases:
                continue
            if len(self.aliases) >= MAX_ALIASES:
                refused.append(label)
                continue
            self.aliases[label] = origin
        return refused

    def note_reached(self, origin: str) -> bool:
        """Record that a participant reached ``origin`` with a credential; False past the cap."""
        if origin in self.reached_origins:
            return True
        if len(self.reached_origins) >= MAX_REACHED_ORIGINS:
            return False
        self.reached_origins.add(origin)
        return True

    def is_live(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at

    def add_participant(self, participant: Participant) -> None:
        """Take ``participant`` in, with a view tag no other participant of the session has."""
        taken = {p.view for p in self.participants.values()}
        view = new_view()
        while view in taken:
            view = new_view()
        participant.view = view
        self.participants[participant.id] = participant

    def by_view(self, view: str) -> Participant | None:
        """The active participant whose proxy hosts carry ``view``, or None."""
        for participant in self.participants.values():
            if view and participant.view == view and participant.admitted:
                return participant
        return None

    def active_participant(self, participant_id: str) -> Participant | None:
        participant = self.participants.get(participant_id)
        if participant is None or not participant.admitted:
            return None
        return participant

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "target_url": self.target_url, "created_at": self.created_at,
            "expires_at": self.expires_at, "leader_id": self.leader_id,
            "participants": {k: p.to_json() for k, p in self.participants.items()},
            "tickets": {k: [t.digest, t.participant_id, t.expires_at, t.next_url]
                        for k, t in self.tickets.items()},
            "invitation_digest": self.invitation_digest,
            "aliases": {k: [o.scheme, o.host, o.port] for k, o in self.aliases.items()},
            "controller": self.controller, "ended_at": self.ended_at,
            "end_redirect_url": self.end_redirect_url,
            "reached_origins": sorted(self.reached_origins),
            "options": self.options.to_json(),
            "api_key_id": self.api_key_id,
            "visitor_links": {k: [v.digest, v.name, v.expires_at] for k, v in self.visitor_links.items()},
            "ended_reason": self.ended_reason,
            "seed": self.seed.to_json(), "seeded": sorted(self.seeded),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        return cls(
            id=str(data["id"]), target_url=str(data["target_url"]),
            created_at=float(data["created_at"]), expires_at=float(data["expires_at"]),
            leader_id=str(data["leader_id"]),
            participants={k: Participant.from_json(v) for k, v in data["participants"].items()},
            tickets={k: Ticket(str(v[0]), str(v[1]), float(v[2]), str(v[3]))
                     for k, v in data["tickets"].items()},
            invitation_digest=str(data["invitation_digest"]),
            aliases={k: Origin(str(v[0]), str(v[1]), int(v[2])) for k, v in data["aliases"].items()},
            controller=str(data["controller"]),
            ended_at=None if data["ended_at"] is None else float(data["ended_at"]),
            end_redirect_url=str(data.get("end_redirect_url", "")),
            reached_origins={str(o) for o in data.get("reached_origins", [])},
            options=SessionOptions.from_json(data.get("options")),
            api_key_id=str(data.get("api_key_id", "")),
            visitor_links={k: VisitorLink(str(v[0]), str(v[1]), float(v[2]))
                           for k, v in data.get("visitor_links", {}).items()},
            ended_reason=str(data.get("ended_reason", "")),
            seed=Seed.from_json(data.get("seed")), seeded={str(p) for p in data.get("seeded", [])},
        )
