"""Session lifecycle and admission: create, look up, issue and redeem tickets, authenticate, end;
who is in: visitor links, approval of waiting visitors, removal.

This is the policy every entry point shares (REST API, console, proxy). It owns no I/O of its
own beyond the store seam, and takes the time as an argument so tests can script it.

Admission rules:
- a ticket is single use (taken out of the session atomically) and short-lived;
- a credential is valid only for the session named in the request's host, only while its
  participant is in the session and not revoked, and only while the session is live;
- a follower joins through the session's invitation (valid for the session's life until
  revoked, i.e. replaced) or through a single-use visitor link (named: the name is the link's;
  or opened by a PIN), at most ``max_followers`` of them (the session's option, else the
  server's); waiting and admitted visitors both count;
- in a session with ``require_approval`` a visitor joins *waiting*: it holds a credential, but
  no proxy host or sync socket accepts it until the agent approves it (``approve``); removal
  (``remove``) refuses the credential for good, and is how a waiting visitor is declined;
- the leader cannot be removed (end the session instead).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sessions.credentials import Credential, Signer, cookie_name
from sessions.ids import digest, new_participant_id, new_secret, new_session_id
from sessions.lifecycle import Lifecycle
from sessions.model import MAX_VISITOR_LINKS, Participant, Session, Ticket, VisitorLink
from sessions.options import OptionLimits, SessionOptions
from sessions.store import SessionStore


@dataclass(frozen=True, slots=True)
class Lifetimes:
    session: float = Lifecycle().lifetime  # declared once, in sessions.lifecycle
    ticket: float = 300.0


@dataclass(frozen=True, slots=True)
class Created:
    session: Session
    leader_ticket: str
    invitation: str


@dataclass(frozen=True, slots=True)
class Admission:
    """A redeemed ticket: the signed credential to set as a cookie, and where to go."""

    credential: str
    cookie_name: str
    max_age: int
    next_url: str
    participant: Participant


@dataclass(frozen=True, slots=True)
class Door:
    """How a visitor comes in: the session's invitation or a single-use visitor link."""

    invitation: str = ""
    link: str = ""


class AdmissionError(Exception):
    """A ticket or credential was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SessionService:
    def __init__(self, store: SessionStore, signer: Signer, lifetimes: Lifetimes | None = None,
                 max_followers: int = OptionLimits().max_followers) -> None:
        self.store = store
        self.signer = signer
        self.lifetimes = lifetimes or Lifetimes()
        self.max_followers = max_followers

    async def create(self, target_url: str, agent_id: str, agent_name: str, now: float,
                     lifetime: float | None = None, end_redirect_url: str = "",
                     options: SessionOptions | None = None, api_key_id: str = "") -> Created:
        sid = new_session_id()
        while await self.store.get(sid) is not None:
            sid = new_session_id()
        leader = Participant(new_participant_id(), "leader", agent_name or "Agent", now, agent_id)
        session = Session(id=sid, target_url=target_url, created_at=now,
                          expires_at=now + (lifetime or self.lifetimes.session), leader_id=leader.id,
                          controller=leader.id, end_redirect_url=end_redirect_url,
                          options=options or SessionOptions(), api_key_id=api_key_id)
        session.add_participant(leader)
        invitation = new_secret()
        session.invitation_digest = digest(invitation)
        ticket = new_secret()
        session.tickets[digest(ticket)] = Ticket(digest(ticket), leader.id, now + self.lifetimes.ticket,
                                                 target_url)
        await self.store.add(session)
        return Created(session, ticket, invitation)

    async def issue_ticket(self, session_id: str, participant_id: str, next_url: str, now: float) -> str:
        """A fresh single-use ticket for an existing participant (e.g. a new leader link)."""
        ticket = new_secret()

        def add(session: Session) -> bool:
            if not session.is_live(now) or session.active_participant(participant_id) is None:
                return False
            session.tickets = {k: t for k, t in session.tickets.items() if t.expires_at > now}
            session.tickets[digest(ticket)] = Ticket(digest(ticket), participant_id,
                                                     now + self.lifetimes.ticket, next_url)
            return True

        if not await self.store.update(session_id, add):
            raise AdmissionError(410, "This session has ended or the participant is no longer in it.")
        return ticket

    async def redeem(self, session_id: str, ticket: str, now: float) -> Admission:
        def take(session: Session) -> tuple[Ticket | None, bool]:
            found = session.tickets.pop(digest(ticket), None)
            return found, session.is_live(now)

        taken = await self.store.update(session_id, take)
        if taken is None:
            raise AdmissionError(404, "No such session.")
        found, live = taken
        if not live:
            raise AdmissionError(410, "This session has ended.")
        if found is None:
            raise AdmissionError(403, "This link has already been used or is not valid. "
                                      "Ask the agent for a new link.")
        if found.expires_at <= now:
            raise AdmissionError(403, "This link has expired. Ask the agent for a new link.")
        session = await self.store.get(session_id)
        participant = session.active_participant(found.participant_id) if session else None
        if session is None or participant is None:
            raise AdmissionError(403, "This participant is no longer part of the session.")
        expires = int(session.expires_at)
        cred = Credential(session_id, participant.id, participant.role, expires)
        return Admission(self.signer.sign(cred), cookie_name(session_id), max(1, int(expires - now)),
                         found.next_url, participant)

    async def check_door(self, session_id: str, door: Door, now: float) -> tuple[Session, str]:
        """The session a door opens and the name a named link fixes ("" for none), or
        ``AdmissionError`` (404, 410 ended or expired, 403 wrong or used door, 409 full)."""
        session = await self.store.get(session_id)
        if session is None:
            raise AdmissionError(404, "No such session.")
        refusal = self._join_refusal(session, door, now)
        if isinstance(refusal, AdmissionError):
            raise refusal
        return session, refusal.name if refusal is not None else ""

    async def check_invitation(self, session_id: str, invitation: str, now: float) -> Session:
        """The session an invitation opens, or ``AdmissionError`` (see ``check_door``)."""
        return (await self.check_door(session_id, Door(invitation=invitation), now))[0]

    async def join(self, session_id: str, door: Door, name: str, now: float) -> Admission:
        """Admit a new follower through ``door`` (a visitor link is used up): its credential, to
        set as a cookie; the follower waits for approval when the session requires it."""
        follower = Participant(new_participant_id(), "follower", _display_name(name), now)

        def add(session: Session) -> AdmissionError | Session:
            refusal = self._join_refusal(session, door, now)
            if isinstance(refusal, AdmissionError):
                return refusal
            if refusal is not None:
                del session.visitor_links[refusal.digest]
                follower.name = refusal.name or follower.name
            follower.waiting = session.options.require_approval
            session.add_participant(follower)
            return session

        outcome = await self.store.update(session_id, add)
        if outcome is None:
            raise AdmissionError(404, "No such session.")
        if isinstance(outcome, AdmissionError):
            raise outcome
        expires = int(outcome.expires_at)
        cred = Credential(session_id, follower.id, follower.role, expires)
        return Admission(self.signer.sign(cred), cookie_name(session_id), max(1, int(expires - now)),
                         outcome.target_url, follower)

    async def issue_visitor_link(self, session_id: str, name: str, now: float,
                                 lifetime: float) -> tuple[str, VisitorLink]:
        """A single-use visitor link (its secret and what the session keeps of it); ``name``
        (when not empty) is the name the visitor joins with. Valid for ``lifetime`` seconds, at
        most until the session expires; at most ``MAX_VISITOR_LINKS`` are outstanding."""
        secret = new_secret()

        def add(session: Session) -> AdmissionError | VisitorLink:
            if not session.is_live(now):
                return _not_live(session, now)
            session.visitor_links = {k: v for k, v in session.visitor_links.items() if v.expires_at > now}
            if len(session.visitor_links) >= MAX_VISITOR_LINKS:
                return AdmissionError(409, f"This session already has {MAX_VISITOR_LINKS} unused visitor links; "
                                           "wait for some to be used or to expire.")
            link = VisitorLink(digest(secret), name.strip()[:60], min(now + lifetime, session.expires_at))
            session.visitor_links[link.digest] = link
            return link

        outcome = await self.store.update(session_id, add)
        if outcome is None:
            raise AdmissionError(404, "No such session.")
        if isinstance(outcome, AdmissionError):
            raise outcome
        return secret, outcome

    def named(self, session: Session, token: str | None, now: float) -> Participant | None:
        """The participant a valid credential names, admitted or not (waiting, removed): for the
        pages that tell a visitor where it stands."""
        cred = self.signer.verify(token, now) if token else None
        if cred is None or cred.session_id != session.id:
            return None
        participant = session.participants.get(cred.participant_id)
        return participant if participant is not None and participant.role == cred.role else None

    async def approve(self, session_id: str, participant_id: str, now: float) -> tuple[Participant, bool]:
        """Let a waiting visitor in; the participant and whether it was waiting (approving an
        admitted one changes nothing). ``AdmissionError`` 404 (no such participant), 409 (it
        was removed, or the session has ended)."""
        def let_in(session: Session) -> AdmissionError | tuple[Participant, bool]:
            found = session.participants.get(participant_id)
            if found is None:
                return AdmissionError(404, f"No participant {participant_id!r} in this session.")
            if found.revoked:
                return AdmissionError(409, "This visitor was removed (or declined); ask them to join again.")
            if not session.is_live(now):
                return AdmissionError(409, "This session has ended.")
            was = found.waiting
            found.waiting = False
            return found, was

        return _settled(await self.store.update(session_id, let_in))

    async def remove(self, session_id: str, participant_id: str, now: float) -> tuple[Participant, bool]:
        """Remove a participant (or decline a waiting visitor): its credential is refused from
        now on, control it held goes back to the leader. The participant and whether this
        removed it (False: it was already out). ``AdmissionError`` 404, 409 for the leader."""
        def take_out(session: Session) -> AdmissionError | tuple[Participant, bool]:
            found = session.participants.get(participant_id)
            if found is None:
                return AdmissionError(404, f"No participant {participant_id!r} in this session.")
            if found.role == "leader":
                return AdmissionError(409, "The agent (the session's leader) cannot be removed: "
                                           "end the session instead (DELETE /api/v1/sessions/{id}).")
            if found.revoked:
                return found, False
            found.revoked = True
            session.tickets = {k: t for k, t in session.tickets.items() if t.participant_id != participant_id}
            if session.controller == participant_id:
                session.controller = session.leader_id
            return found, True

        return _settled(await self.store.update(session_id, take_out))

    async def revoke_invitation(self, session_id: str, now: float) -> str:
        """Replace the invitation: the old follower link stops working; the new one is returned."""
        invitation = new_secret()

        def replace(session: Session) -> bool:
            if not session.is_live(now):
                return False
            session.invitation_digest = digest(invitation)
            return True

        if not await self.store.update(session_id, replace):
            raise AdmissionError(410, "This session has ended.")
        return invitation

    def _join_refusal(self, session: Session, door: Door, now: float) -> AdmissionError | VisitorLink | None:
        """Why ``door`` does not open ``session`` now; else the visitor link it uses (None for
        the invitation)."""
        if not session.is_live(now):
            return _not_live(session, now)
        link: VisitorLink | None = None
        if door.link:
            link = session.visitor_links.get(digest(door.link))
            if link is None:
                return AdmissionError(403, "This link has already been used or is not valid. "
                                           "Ask the agent for a new link.")
            if link.expires_at <= now:
                return AdmissionError(403, "This link has expired. Ask the agent for a new link.")
        elif not session.invitation_digest or not hmac.compare_digest(digest(door.invitation),
                                                                      session.invitation_digest):
            return AdmissionError(403, "This invitation is not valid (any more). Ask the agent for a new link.")
        most = session.options.max_followers or self.max_followers
        followers = sum(1 for p in session.participants.values() if p.role == "follower" and not p.revoked)
        if followers >= most:
            return AdmissionError(409, f"This session is full: it already has {followers} visitors, "
                                       "the most it admits. Ask the agent to make room.")
        return link

    async def authenticate(self, session: Session, token: str | None, now: float) -> Participant | None:
        if not token:
            return None
        cred = self.signer.verify(token, now)
        if cred is None or cred.session_id != session.id:
            return None
        participant = session.active_participant(cred.participant_id)
        if participant is None or participant.role != cred.role:
            return None
        return participant

    async def end(self, session_id: str, now: float, reason: str = "") -> Session | None:
        """End the session (its first end and first ``reason`` are kept), in one change, so no
        reader sees it ended without its reason."""
        def stop(session: Session) -> Session:
            if session.ended_at is None:
                session.ended_at = now
            session.ended_reason = session.ended_reason or reason
            session.tickets.clear()
            session.invitation_digest = ""
            return session

        return await self.store.update(session_id, stop)


def _display_name(name: str) -> str:
    return name.strip()[:60] or "Visitor"


def _not_live(session: Session, now: float) -> AdmissionError:
    if session.ended_at is None and now >= session.expires_at:
        return AdmissionError(410, "This session has expired: it was open for its whole lifetime. "
                                   "Ask the agent to start a new one.")
    return AdmissionError(410, "This session has ended.")


def _settled(outcome: AdmissionError | tuple[Participant, bool] | None) -> tuple[Participant, bool]:
    if outcome is None:
        raise AdmissionError(404, "No such session.")
    if isinstance(outcome, AdmissionError):
        raise outcome
    return outcome
