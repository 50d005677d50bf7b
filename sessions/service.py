"""Session lifecycle and admission: create, look up, issue and redeem tickets, authenticate, end.

This is the policy every entry point shares (REST API, console, proxy). It owns no I/O of its
own beyond the store seam, and takes the time as an argument so tests can script it.

Admission rules:
- a ticket is single use (taken out of the session atomically) and short-lived;
- a credential is valid only for the session named in the request's host, only while its
  participant is in the session and not revoked, and only while the session is live;
- a follower joins through the session's invitation (valid for the session's life until
  revoked, i.e. replaced), at most ``max_followers`` of them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sessions.credentials import Credential, Signer, cookie_name
from sessions.ids import digest, new_participant_id, new_secret, new_session_id
from sessions.model import Participant, Session, Ticket
from sessions.options import SessionOptions
from sessions.store import SessionStore


@dataclass(frozen=True, slots=True)
class Lifetimes:
    session: float = 8 * 3600.0
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


class AdmissionError(Exception):
    """A ticket or credential was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SessionService:
    def __init__(self, store: SessionStore, signer: Signer, lifetimes: Lifetimes | None = None,
                 max_followers: int = 10) -> None:
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

    async def check_invitation(self, session_id: str, invitation: str, now: float) -> Session:
        """The session an invitation opens, or ``AdmissionError`` (404, 410, 403, 409 when full)."""
        session = await self.store.get(session_id)
        refusal = None if session is None else self._join_refusal(session, invitation, now)
        if session is None:
            raise AdmissionError(404, "No such session.")
        if refusal is not None:
            raise refusal
        return session

    async def join(self, session_id: str, invitation: str, name: str, now: float) -> Admission:
        """Admit a new follower through the invitation: its credential, to set as a cookie."""
        follower = Participant(new_participant_id(), "follower", name.strip()[:60] or "Visitor", now)

        def add(session: Session) -> AdmissionError | Session:
            refusal = self._join_refusal(session, invitation, now)
            if refusal is None:
                session.add_participant(follower)
                return session
            return refusal

        outcome = await self.store.update(session_id, add)
        if outcome is None:
            raise AdmissionError(404, "No such session.")
        if isinstance(outcome, AdmissionError):
            raise outcome
        expires = int(outcome.expires_at)
        cred = Credential(session_id, follower.id, follower.role, expires)
        return Admission(self.signer.sign(cred), cookie_name(session_id), max(1, int(expires - now)),
                         outcome.target_url, follower)

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

    def _join_refusal(self, session: Session, invitation: str, now: float) -> AdmissionError | None:
        if not session.is_live(now):
            return AdmissionError(410, "This session has ended.")
        if not session.invitation_digest or not hmac.compare_digest(digest(invitation),
                                                                    session.invitation_digest):
            return AdmissionError(403, "This invitation is not valid (any more). Ask the agent for a new link.")
        followers = sum(1 for p in session.participants.values() if p.role == "follower" and not p.revoked)
        if followers >= self.max_followers:
            return AdmissionError(409, f"This session is full: it already has {followers} visitors, "
                                       "the most it admits. Ask the agent to make room.")
        return None

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

    async def end(self, session_id: str, now: float) -> Session | None:
        def stop(session: Session) -> Session:
            if session.ended_at is None:
                session.ended_at = now
            session.tickets.clear()
            session.invitation_digest = ""
            return session

        return await self.store.update(session_id, stop)
