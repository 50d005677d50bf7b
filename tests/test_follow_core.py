"""The pure parts of following (issue 7, item 5) as scripts of inputs and expected outputs: the relay's
``nav`` for a page without a runtime, the state a new document clears, and the text view a follower
is served for a JSON or plain-text page."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup

from rewriter.textview import shown_as_text, text_view
from sessions.protocol import Inbound
from sessions.relay import Member, Outcome, Relay
from sessions.syncstate import SharedState

LEADER = Member("pL", "leader", "Ann")
FOLLOWER = Member("pF", "follower", "Vic")
URL = "http://example.com/a"


def _greeted() -> Relay:
    relay = Relay("sess", LEADER.id, LEADER.id, URL)
    for conn, member in (("cL", LEADER), ("cF", FOLLOWER)):
        relay.open(conn, member, "http://example.com", [LEADER, FOLLOWER])
        relay.receive(conn, Inbound("hello", 0, {"page": conn, "window": "main", "url": URL, "last": 0}), 1.0)
    return relay


def _to(outcome: Outcome, conn: str) -> list[dict[str, Any]]:
    return [dict(s.message) for s in outcome.sends if conn in s.to]


def test_server_announced_load_reaches_followers_as_the_controllers_nav_and_moves_the_state() -> None:
    relay = _greeted()
    n = relay.n
    outcome = relay.announce("http://example.com/data.json", 2.0)
    assert _to(outcome, "cF") == [{"url": "http://example.com/data.json", "kind": "load", "type": "nav",
                                   "n": n + 1, "from": LEADER.id}]
    assert _to(outcome, "cL") == []  # the controller's own pages are not told where they are
    assert relay.current_url == "http://example.com/data.json"  # a late joiner lands there


def test_announce_after_the_end_sends_nothing() -> None:
    relay = _greeted()
    relay.end()
    assert relay.announce("http://example.com/b", 2.0).sends == ()


def test_a_new_document_at_the_same_url_clears_form_values_and_scroll_a_fragment_keeps_them() -> None:
    state = SharedState(windows={"main": URL})
    state.apply("input", {"target": ["#item"], "value": "cake"}, "main", "")
    state.apply("scroll", {"target": None, "x": 0, "y": 40, "anchor": None}, "main", "")
    state.apply("nav", {"url": URL + "#top", "kind": "hash"}, "main", "")
    assert state.forms and state.scroll
    state.apply("nav", {"url": URL, "kind": "load"}, "main", "")  # the form posted to its own URL
    assert state.forms == {} and state.scroll == {}


def test_text_view_shows_the_text_as_the_browser_would_and_never_as_markup() -> None:
    page = text_view(b'\xef\xbb\xbf{"a": "<script>alert(1)</script> & \xc3\xa9"}\n')
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find("script") is None
    pre = soup.find("pre")
    assert pre is not None and pre.get_text() == '{"a": "<script>alert(1)</script> & \u00e9"}\n'


def test_text_view_decodes_with_the_declared_charset_and_survives_an_unknown_one() -> None:
    assert "caf\u00e9" in text_view(b"caf\xe9", "latin-1").decode("utf-8")
    assert b"<pre" in text_view(b"plain", "no-such-charset")


def test_types_shown_as_text() -> None:
    assert shown_as_text("application/json; charset=utf-8")
    assert shown_as_text("application/problem+json")
    assert shown_as_text("text/plain")
    assert not shown_as_text("text/html")
    assert not shown_as_text("image/png")
    assert not shown_as_text(None)
