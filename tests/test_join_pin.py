"""PINs: the book's rules as scripts (unique, bounded in time, used once, failures bounded per
client), then the ``/pin`` page on a real server: a PIN leads to a single-use join page, a wrong
one is refused with the reason, and too many wrong ones from one address are refused with 429."""

from __future__ import annotations

import json
import re
from typing import Any

from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st
from world.harness import Cobrowse, StartCobrowse
from world.sync_client import start_session

from proxy.pin import Pins
from sessions.pins import PinBook, PinRefused, PinRules, client_key, failed, failure_wait, typed_pin
from sessions.shared import MemoryShared

KEY = b"k" * 32
NOW = 1000.0


def test_a_pin_is_six_digits_opens_its_session_once() -> None:
    book = PinBook(KEY)
    issued = book.issue("s1", NOW, NOW + 7200)
    assert re.fullmatch(r"[0-9]{6}", issued.pin) and issued.expires_at == NOW + 600
    assert book.take(issued.pin, NOW + 1) == "s1"
    assert book.take(issued.pin, NOW + 2) is None


def test_a_pin_expires_after_its_lifetime_or_with_its_session() -> None:
    book = PinBook(KEY)
    issued = book.issue("s1", NOW, NOW + 7200)
    assert book.take(issued.pin, NOW + 600) is None
    short = book.issue("s2", NOW, NOW + 60)
    assert short.expires_at == NOW + 60
    assert book.take(short.pin, NOW + 61) is None


def test_a_new_pin_replaces_the_sessions_previous_one() -> None:
    book = PinBook(KEY)
    old = book.issue("s1", NOW, NOW + 7200)
    new = book.issue("s1", NOW, NOW + 7200)
    if old.pin != new.pin:
        assert book.take(old.pin, NOW) is None
    assert book.take(new.pin, NOW) == "s1"


def test_live_pins_are_unique_even_when_the_space_is_nearly_full() -> None:
    book = PinBook(KEY, PinRules(max_live=1_000_000))
    pins = {book.issue(f"s{i}", NOW, NOW + 7200).pin for i in range(3000)}
    assert len(pins) == 3000


def test_the_book_round_trips_through_its_text_and_holds_no_pin() -> None:
    book = PinBook(KEY)
    issued = [book.issue(f"s{i}", NOW, NOW + 7200) for i in range(3)]
    text = book.dump()
    assert text is not None and not any(i.pin in text for i in issued)
    again = PinBook.load(KEY, PinRules(), text)
    assert again.take(issued[1].pin, NOW) == "s1"
    again.drop("s2")
    assert again.take(issued[2].pin, NOW) is None and again.take(issued[0].pin, NOW) == "s0"
    assert again.dump() is None
    assert PinBook.load(KEY, PinRules(), "not a book").dump() is None


def test_failures_age_out_and_only_the_last_attempts_count() -> None:
    rules = PinRules(attempts=3, window=100)
    held = None
    for at in (NOW, NOW + 10, NOW + 20):
        assert failure_wait(held, at, rules) == 0
        held = failed(held, at, rules)
    assert failure_wait(held, NOW + 20, rules) == 80  # until the first of the three ages out
    assert failure_wait(held, NOW + 100, rules) == 0
    assert len(failed(failed(held, NOW + 21, rules), NOW + 22, rules).split()) == 3
    assert failure_wait("garbage", NOW, rules) == 0


async def test_failures_are_bounded_per_client_and_age_out() -> None:
    desk = Pins(MemoryShared(), KEY, PinRules(attempts=3, window=100))
    issued = await desk.issue("s1", NOW, NOW + 7200)
    wrong = "000000" if issued.pin != "000000" else "111111"
    for _ in range(3):
        refused = await desk.redeem(wrong, "2001:db8::1", NOW)
        assert isinstance(refused, PinRefused) and refused.status == 403
    # Another address of the same /64 is the same client: even the right PIN is refused now.
    blocked = await desk.redeem(issued.pin, "2001:db8::2", NOW + 1)
    assert isinstance(blocked, PinRefused) and blocked.status == 429 and 0 < blocked.retry_after <= 100
    assert await desk.redeem(issued.pin, "2001:db8:0:1::1", NOW + 1) == "s1"  # another /64 is another client
    again = await desk.issue("s1", NOW, NOW + 7200)
    assert await desk.redeem(again.pin, "2001:db8::3", NOW + 101) == "s1"  # the failures aged out


async def test_malformed_pins_are_refused_as_such_and_not_counted() -> None:
    desk = Pins(MemoryShared(), KEY, PinRules(attempts=1))
    for typed in ("12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        refused = await desk.redeem(typed, "10.0.0.9", NOW)
        assert isinstance(refused, PinRefused) and refused.status == 400
    issued = await desk.issue("s1", NOW, NOW + 7200)
    assert await desk.redeem(f"{issued.pin[:3]} {issued.pin[3:]}", "10.0.0.9", NOW) == "s1"


@given(st.text(max_size=40))
def test_reading_a_typed_pin_never_crashes_on_any_input(typed: str) -> None:
    book = PinBook(KEY)
    book.issue("s1", NOW, NOW + 7200)
    got = typed_pin(typed)
    assert isinstance(got, PinRefused) or book.take(got, NOW) in ("s1", None)


def test_client_keys_group_ipv6_by_64_and_keep_ipv4_as_is() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"


# ---- the PIN page on a live server


async def new_pin(server: Cobrowse, sid: str) -> dict[str, Any]:
    reply = await server.api("POST", f"/api/v1/sessions/{sid}/pin")
    assert reply.status == 201, reply.text
    issued: dict[str, Any] = json.loads(reply.body)
    return issued


async def post_pin(server: Cobrowse, pin: str) -> Any:
    return await server.request("POST", f"{server.control}/pin", data={"pin": pin}, cookies={})


async def test_the_pin_page_leads_to_a_single_use_join_page_of_the_session(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    issued = await new_pin(server, created["id"])
    assert issued["pin_url"] == f"{server.control}/pin" and re.fullmatch(r"[0-9]{6}", issued["pin"])
    page = await server.request("GET", issued["pin_url"], cookies={})
    assert page.status == 200 and "form-action 'self'" in (page.header("Content-Security-Policy") or "")
    field = BeautifulSoup(page.text, "html.parser").find("input", id="pin")
    assert field["inputmode"] == "numeric" and field.has_attr("autofocus")
    reply = await post_pin(server, issued["pin"])
    assert reply.status == 303
    join_url = reply.header("Location") or ""
    assert join_url.startswith(f"/join/{created['id']}?link=")
    join_page = await server.request("GET", server.control + join_url, cookies={})
    assert join_page.status == 200 and "Join Ann's co-browsing session" in join_page.text
    name = BeautifulSoup(join_page.text, "html.parser").find("input", attrs={"name": "name"})
    assert not name.has_attr("readonly")
    used = await post_pin(server, issued["pin"])
    assert used.status == 403 and "not valid" in used.text


async def test_wrong_pins_are_refused_then_the_address_is_held_off_with_429(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    issued = await new_pin(server, created["id"])
    wrong = "000000" if issued["pin"] != "000000" else "111111"
    short = await post_pin(server, "12")
    assert short.status == 400 and "6 digits" in short.text
    for _ in range(PinRules().attempts):
        assert (await post_pin(server, wrong)).status == 403
    held = await post_pin(server, issued["pin"])
    assert held.status == 429 and int(held.header("Retry-After") or "0") > 0
    assert "Too many wrong PINs" in held.text


async def test_a_pin_for_an_ended_session_is_refused(start_server: StartCobrowse) -> None:
    server = await start_server()
    created, _ = await start_session(server)
    issued = await new_pin(server, created["id"])
    assert (await server.api("DELETE", f"/api/v1/sessions/{created['id']}")).status == 200
    assert (await server.api("POST", f"/api/v1/sessions/{created['id']}/pin")).status == 410
    reply = await post_pin(server, issued["pin"])
    assert reply.status == 410 and "ended" in reply.text
