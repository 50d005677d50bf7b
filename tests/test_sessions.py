"""The session service as a script of inputs and outputs: tickets, credentials, ending."""

from __future__ import annotations

import pytest

from sessions.credentials import VERIFIED_KEPT, Credential, Signer
from sessions.ids import is_session_id, new_session_id
from sessions.service import AdmissionError, SessionService
from sessions.store import MemoryStore

NOW = 1_800_000_000.0


def make_service() -> SessionService:
    return SessionService(MemoryStore(), Signer(b"k" * 32))


def test_session_ids_are_dns_safe_and_fit_the_label_budget() -> None:
    for _ in range(200):
        sid = new_session_id()
        assert is_session_id(sid) and "-" not in sid and sid == sid.lower()


def test_signed_credential_round_trips_and_rejects_tampering() -> None:
    signer = Signer(b"secret" * 6)
    token = signer.sign(Credential("abcdefghij", "p1", "leader", int(NOW) + 60))
    assert signer.verify(token, NOW) == Credential("abcdefghij", "p1", "leader", int(NOW) + 60)
    assert signer.verify(token.replace("leader", "follower"), NOW) is None
    assert signer.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), NOW) is None
    assert Signer(b"other" * 7).verify(token, NOW) is None
    assert signer.verify(token, NOW + 61) is None
    for garbage in ["", ".", "v1....", "x" * 2000, "v1.a.b.c.d.e", "ü"]:
        assert signer.verify(garbage, NOW) is None


def test_verified_tokens_are_remembered_within_a_bound_and_still_expire() -> None:
    signer = Signer(b"secret" * 6)
    tokens = [signer.sign(Credential("abcdefghij", f"p{i}", "leader", int(NOW) + 60))
              for i in range(VERIFIED_KEPT + 10)]
    for token in tokens:
        assert signer.verify(token, NOW) is not None
    assert len(signer._verified) == VERIFIED_KEPT
    assert signer.verify(tokens[0], NOW) == Credential("abcdefghij", "p0", "leader", int(NOW) + 60)  # re-checked
    assert signer.verify(tokens[-1], NOW + 61) is None  # remembered, and expired all the same
    forged = tokens[-1][:-2] + ("AA" if tokens[-1][-2:] != "AA" else "BB")
    assert signer.verify(forged, NOW) is None and forged not in signer._verified


async def test_leader_ticket_is_single_use() -> None:
    service = make_service()
    created = await service.create("https://example.com/", "a1", "Ann", NOW)
    admission = await service.redeem(created.session.id, created.leader_ticket, NOW + 1)
    assert admission.participant.role == "leader"
    assert admission.cookie_name == "cbp_" + created.session.id
    with pytest.raises(AdmissionError) as second:
        await service.redeem(created.session.id, created.leader_ticket, NOW + 2)
    assert second.value.status == 403 and "already been used" in second.value.message


async def test_expired_ticket_is_refused() -> None:
    service = make_service()
    created = await service.create("https://example.com/", "a1", "Ann", NOW)
    with pytest.raises(AdmissionError) as refused:
        await service.redeem(created.session.id, created.leader_ticket, NOW + 3600)
    assert refused.value.status == 403 and "expired" in refused.value.message


async def test_credential_only_admits_to_its_own_live_session() -> None:
    service = make_service()
    one = await service.create("https://example.com/", "a1", "Ann", NOW)
    two = await service.create("https://example.org/", "a2", "Bob", NOW)
    admission = await service.redeem(one.session.id, one.leader_ticket, NOW)
    assert await service.authenticate(one.session, admission.credential, NOW) is not None
    assert await service.authenticate(two.session, admission.credential, NOW) is None
    assert await service.authenticate(one.session, None, NOW) is None
    await service.end(one.session.id, NOW + 5)
    ended_one = await service.store.get(one.session.id)  # what was handed out is a copy
    assert ended_one is not None and not ended_one.is_live(NOW + 6)
    with pytest.raises(AdmissionError) as ended:
        await service.redeem(one.session.id, "whatever", NOW + 6)
    assert ended.value.status == 410


async def test_new_leader_link_after_the_first_was_used() -> None:
    service = make_service()
    created = await service.create("https://example.com/", "a1", "Ann", NOW)
    await service.redeem(created.session.id, created.leader_ticket, NOW)
    ticket = await service.issue_ticket(created.session.id, created.session.leader_id, "/", NOW + 10)
    again = await service.redeem(created.session.id, ticket, NOW + 11)
    assert again.participant.id == created.session.leader_id


async def test_session_round_trips_through_json() -> None:
    from sessions.model import Session

    service = make_service()
    created = await service.create("https://example.com/", "a1", "Ann", NOW)
    data = created.session.to_json()
    assert Session.from_json(data).to_json() == data
