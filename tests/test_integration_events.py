"""The integration events' pure core (``sessions.integration_events``) as scripts of session events
in and integration events out: which audit events become which types, what their data holds
(an allow-list: nothing else an audit event carries gets out), ids that sort in the order made."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sessions.integration_events import EVENT_TYPES, TRANSLATIONS, EventIds, Noted, owner_key, translate
from sessions.model import Participant, Session


def session() -> Session:
    s = Session(id="s1", target_url="http://example.com/", created_at=0.0, expires_at=100.0, leader_id="pL",
                controller="pL", api_key_id="k_crm")
    s.participants = {"pL": Participant("pL", "leader", "Ann", 0.0, "a1"),
                      "pF": Participant("pF", "follower", "Vic", 1.0)}
    return s


def noted(name: str, participant: str = "", /, **detail: str) -> Noted:
    return Noted("s1", participant, name, 5.0, detail, "evt_x")


def test_each_session_event_becomes_its_type_with_the_allowed_fields_only() -> None:
    s = session()
    script = [
        (noted("created", "pL", url="http://example.com/", agent="a1", ticket="T"),
         "session.created", {"url": "http://example.com/", "agent": {"id": "a1", "name": "Ann"}}),
        (noted("joined", "pF", role="follower", name="Vic", invitation="I"),
         "participant.joined", {"participant": {"id": "pF", "role": "follower", "name": "Vic"}, "rejoined": False}),
        (noted("joined", "pF", again="yes"), "participant.joined",
         {"participant": {"id": "pF", "role": "follower", "name": "Vic"}, "rejoined": True}),
        (noted("left", "pF"), "participant.left", {"participant": {"id": "pF", "role": "follower", "name": "Vic"}}),
        (noted("removed", "pF", by="api", reason="removed", cookie="c"), "participant.removed",
         {"participant": {"id": "pF", "role": "follower", "name": "Vic"}, "by": "api", "reason": "removed"}),
        (noted("control", "pF", controller="pF", action="granted", by="pL"), "control.changed",
         {"controller": {"id": "pF", "role": "follower", "name": "Vic"}, "action": "granted",
          "by": {"id": "pL", "role": "leader", "name": "Ann"}}),
        (noted("ended", "", by="expired"), "session.ended", {"reason": "expired"}),
    ]
    for given_, kind, data in script:
        event = translate(given_, s)
        assert event is not None and (event.type, dict(event.data)) == (kind, data), given_.name
        assert (event.id, event.session_id, event.created_at) == ("evt_x", "s1", 5.0)


def test_events_that_change_nothing_for_integrators_are_not_published() -> None:
    s = session()
    for quiet in [noted("control", "pF", action="requested", by="pF", controller="pL"),
                  noted("control", "pF", action="declined", by="pF", controller="pF"),
                  noted("navigation", "pL", url="http://example.com/2"), noted("websocket", "pL", phase="open"),
                  noted("policy", "pL", rule="address"), noted("privacy", "pL", names="pw"),
                  noted("approved", "pF", by="api"), noted("exported", "", format="har")]:
        assert translate(quiet, s) is None, quiet


def test_every_type_has_a_translation_and_the_owner_is_the_creating_key() -> None:
    assert {kind for kind, _ in TRANSLATIONS.values()} == set(EVENT_TYPES)
    assert owner_key(session()) == "k_crm"
    assert owner_key(Session(id="s", target_url="", created_at=0, expires_at=0, leader_id="")) == "default"
    assert owner_key(None) == "default"


def test_a_purged_session_still_names_the_participant_by_id() -> None:
    event = translate(noted("left", "pF"), None)
    assert event is not None and event.data == {"participant": {"id": "pF"}}


@given(times=st.lists(st.floats(min_value=0, max_value=4e9, allow_nan=False), min_size=1, max_size=200))
def test_ids_sort_in_the_order_they_were_made_even_when_the_clock_goes_back(times: list[float]) -> None:
    ids = EventIds("abcdef")
    made = [ids.next(t) for t in times]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(i) == 30 and i.startswith("evt_") for i in made)
