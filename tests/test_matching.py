"""Request keys and the ledger (``sessions.matching``), as scripts of inputs and expected outputs; and the
response store's landing and per-page pairing built on them (``ResponseStore.match``)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions.matching import Ledger, RequestKey, key_for, normalise_body, normalise_url, volatile_placeholder
from sessions.responses import Head, ResponseStore
from sessions.shared import MemoryShared

VALUES = [
    ("1712345678901", "{time}"),  # Date.now()
    ("1712345678", "{time}"),  # Unix seconds
    ("1712345678.123", "{time}"),
    ("0.8237461928", "{random}"),  # Math.random()
    ("0.123456", "{random}"),
    ("3f2b9c1e-7d4a-4e8b-9c2d-1a2b3c4d5e6f", "{uuid}"),
    ("3F2B9C1E-7D4A-4E8B-9C2D-1A2B3C4D5E6F", "{uuid}"),
    ("d41d8cd98f00b204e9800998ecf8427e", "{hex}"),
    ("k5j3h2g9f1x", "{token}"),  # Math.random().toString(36).slice(2)
    ("dGhpc0lzQVRva2VuMTIz", "{token}"),  # base64
    ("aGVsbG8gd29ybGQhIQ==", "{token}"),
    # Stable values stay as they are.
    ("2", None),
    ("42", None),
    ("12345", None),
    ("2024", None),
    ("0.5", None),
    ("page", None),
    ("my-article-title-2024", None),
    ("abcdefgh", None),  # letters only
    ("en-US", None),
    ("12345678901", None),  # 11 digits: not a clock
    ("v2", None),
    ("", None),
]


@pytest.mark.parametrize(("value", "expected"), VALUES)
def test_volatile_placeholder_classifies_values(value: str, expected: str | None) -> None:
    assert volatile_placeholder(value) == expected


URLS = [
    # cache busters removed whatever their value
    ("http://a.test/data?_=1712345678901", "http://a.test/data"),
    ("http://a.test/data?cb=x&nocache=1&t=9&ts=3&rand=0.5&page=2", "http://a.test/data?page=2"),
    # a bare timestamp as the whole query (JupyterLab's API calls): a volatile name
    ("http://a.test/api/kernels?1796293097965", "http://a.test/api/kernels?%7Btime%7D="),
    # volatile values replaced, parameters sorted, stable ones kept
    ("http://a.test/data?rid=0.8237461928&page=2", "http://a.test/data?page=2&rid=%7Brandom%7D"),
    ("http://a.test/data?b=1&a=2", "http://a.test/data?a=2&b=1"),
    ("http://a.test/data?a=2&a=1", "http://a.test/data?a=2&a=1"),  # repeated names keep their order
    # path segments
    ("http://a.test/u/3f2b9c1e-7d4a-4e8b-9c2d-1a2b3c4d5e6f/x", "http://a.test/u/%7Buuid%7D/x"),
    ("http://a.test/poll/1712345678901", "http://a.test/poll/%7Btime%7D"),
    ("http://a.test/static/app.js", "http://a.test/static/app.js"),
    # scheme and host lower-cased, fragment dropped, empty path is /
    ("HTTP://A.Test/Path#frag", "http://a.test/Path"),
    ("http://a.test", "http://a.test/"),
    ("http://a.test:8080/x?", "http://a.test:8080/x"),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_normalise_url_replaces_volatile_parts(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_two_runs_of_a_page_that_builds_urls_from_date_and_random_get_one_key() -> None:
    leader = key_for("get", "http://a.test/api?_=1712345678901&rid=k5j3h2g9f1x&n=0.8237461928&q=shoes")
    follower = key_for("GET", "http://a.test/api?_=1712345679999&rid=p0q9r8s7t6u&n=0.1234567891&q=shoes")
    assert leader == follower
    assert key_for("GET", "http://a.test/api?q=boots") != follower


def test_method_body_and_range_are_part_of_the_key() -> None:
    url = "http://a.test/x"
    assert key_for("GET", url) != key_for("POST", url)
    assert key_for("POST", url, "text/plain", b"a") != key_for("POST", url, "text/plain", b"b")
    assert key_for("GET", url, range_header="bytes=0-") != key_for("GET", url, range_header="bytes=100-")
    assert key_for("POST", url, "text/plain", b"a").loose == key_for("POST", url, "text/plain", b"b").loose


BODIES = [
    ("application/x-www-form-urlencoded", b"name=Ann&_=1712345678901&token=d41d8cd98f00b204e9800998ecf8427e",
     b"name=Ann&token=%7Bhex%7D"),
    ("application/json", b'{"b": 1, "a": "0.8237461928", "ts": 5}', b'{"a": "{random}", "b": "1"}'),
    ("application/json", b"not json", b"not json"),
    ("multipart/form-data; boundary=----WebKitFormBoundaryAbC123", b"------WebKitFormBoundaryAbC123\r\nx",
     b"--{boundary}\r\nx"),
    ("text/plain", b"as is", b"as is"),
    (None, b"\xff\xfe", b"\xff\xfe"),
]


@pytest.mark.parametrize(("content_type", "body", "expected"), BODIES)
def test_normalise_body_by_content_type(content_type: str | None, body: bytes, expected: bytes) -> None:
    assert normalise_body(content_type, body) == expected


def test_multipart_posts_from_two_browsers_share_a_key() -> None:
    def post(boundary: str) -> RequestKey:
        body = f"--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{boundary}--\r\n"
        return key_for("POST", "http://a.test/f", f"multipart/form-data; boundary={boundary}", body.encode())

    assert post("----WebKitFormBoundaryAAAA1111") == post("----WebKitFormBoundaryBBBB2222")


@given(st.text())
def test_normalise_url_never_raises(url: str) -> None:
    assert isinstance(normalise_url(url), str)


@given(st.text(), st.one_of(st.none(), st.text()), st.binary())
def test_key_for_never_raises(url: str, content_type: str | None, body: bytes) -> None:
    assert isinstance(key_for("POST", url, content_type, body), RequestKey)


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_normalised_url_is_a_fixed_point(url: str) -> None:
    once = normalise_url("http://a.test/" + url)
    assert normalise_url(once) == once


# -- the ledger ------------------------------------------------------------------------------

K = key_for("GET", "http://a.test/x")
J = key_for("GET", "http://a.test/y")


def page(url: str) -> RequestKey:
    return key_for("GET", url)


P1, P2 = page("http://a.test/one"), page("http://a.test/two")
CSS = key_for("GET", "http://a.test/style.css")


def test_ledger_pairs_kth_follower_request_with_kth_driver_response_of_its_page() -> None:
    ledger = Ledger()
    ledger.record("d", P1, 1, navigation=True, page=True)
    ledger.enter("f", 1)
    assert ledger.claim("f", K) is None  # nothing recorded yet
    for entry_id in (2, 3, 4):
        ledger.record("d", K, entry_id)
    assert [ledger.claim("f", K) for _ in range(4)] == [2, 3, 4, None]
    assert ledger.fallback("f", K) == (4, False)  # the driver is still on that page: more may come
    ledger.record("d", K, 5)
    assert ledger.claim("f", K) == 5


def test_ledger_keys_are_counted_separately() -> None:
    ledger = Ledger()
    ledger.claim("f", J)
    ledger.record("d", K, 1)
    ledger.record("d", J, 2)
    ledger.record("d", K, 3)
    assert ledger.claim("f", J) == 2
    assert ledger.claim("f", K) == 1
    assert ledger.claim("f", K) == 3


SAVE = key_for("PUT", "http://a.test/x", "application/json", b'{"v": 2}')


def test_follower_read_after_its_twin_write_skips_the_drivers_reads_from_before_that_write() -> None:
    ledger = Ledger()
    ledger.record("d", P1, 1, navigation=True, page=True)
    ledger.enter("f", 1)
    for entry_id, key in ((2, K), (3, K), (4, SAVE), (5, K)):  # the driver polled twice, saved, read
        ledger.record("d", key, entry_id)
    assert ledger.claim("f", K) == 2  # the follower's timer fired once before the save
    assert ledger.claim("f", SAVE) == 4
    assert ledger.claim("f", K) == 5  # not 3: that read holds the state before the save
    assert ledger.claim("f", K) is None


def test_follower_first_read_of_a_key_after_a_write_is_paired_as_before() -> None:
    ledger = Ledger()
    for entry_id, key in ((1, J), (2, SAVE), (3, K)):  # a chunk the driver loaded before its write
        ledger.record("d", key, entry_id)
    assert ledger.claim("f", SAVE) == 2
    assert ledger.claim("f", J) == 1


def test_follower_read_after_a_write_waits_for_the_drivers_next_read() -> None:
    ledger = Ledger()
    ledger.record("d", K, 1)
    assert ledger.claim("f", K) == 1
    ledger.record("d", K, 2)
    ledger.record("d", SAVE, 3)
    assert ledger.claim("f", SAVE) == 3
    assert ledger.claim("f", K) is None
    assert ledger.fallback("f", K) == (2, False)  # the latest, served only after the wait
    ledger.record("d", K, 4)
    assert ledger.claim("f", K) == 4


def _two_pages_sharing_a_stylesheet() -> Ledger:
    ledger = Ledger()
    ledger.record("d", P1, 1, navigation=True, page=True)
    ledger.record("d", CSS, 2)
    ledger.record("d", P2, 3, navigation=True, page=True)
    ledger.record("d", CSS, 4)
    ledger.record("d", P1, 5, navigation=True, page=True)
    return ledger


def test_stylesheet_shared_by_two_pages_is_paired_with_the_copy_made_for_the_same_page() -> None:
    ledger = _two_pages_sharing_a_stylesheet()
    ledger.enter("f", 3)
    assert ledger.claim("f", CSS) == 4
    ledger.enter("f", 5)  # back on page one: the copy page two got is not this page's
    assert ledger.claim("f", CSS) is None
    ledger.record("d", CSS, 6)
    assert ledger.claim("f", CSS) == 6
    ledger.enter("g", 1)  # a follower still on the first load of page one gets that load's copy
    assert ledger.claim("g", CSS) == 2


def test_page_the_driver_left_falls_back_at_once_to_the_copy_it_had_then() -> None:
    ledger = _two_pages_sharing_a_stylesheet()
    ledger.enter("f", 1)
    assert ledger.claim("f", CSS) == 2
    assert ledger.claim("f", CSS) is None  # this page asks twice; the driver's asked once
    assert ledger.fallback("f", CSS) == (2, True)  # closed: entry 4 belongs to page two
    assert ledger.fallback("f", K) == (None, True)


def test_late_joiner_lands_then_replays_what_the_drivers_copy_of_that_page_got() -> None:
    ledger = Ledger()
    ledger.record("d", K, 1)
    ledger.record("d", P1, 2, navigation=True, page=True)
    ledger.record("d", K, 3)
    ledger.record("d", K, 4)
    assert ledger.page_of("late") == 0  # no page until it lands
    ledger.enter("late", ledger.latest_document(P1.url) or 0)
    assert [ledger.claim("late", K) for _ in range(3)] == [3, 4, None]
    assert ledger.claim("late", J) is None
    ledger.record("d", J, 5)
    assert ledger.claim("late", J) == 5


def test_former_driver_has_seen_its_own_responses_and_follows_the_new_driver() -> None:
    ledger = Ledger()
    ledger.record("a", P1, 1, navigation=True, page=True)
    ledger.record("a", K, 2)
    ledger.record("b", K, 3)  # control moved to b, which re-fetched K on the same page
    assert ledger.page_of("a") == 1
    assert ledger.claim("a", K) == 3
    assert ledger.claim("a", K) is None


def test_driver_becoming_follower_again_starts_afresh() -> None:
    ledger = Ledger()
    ledger.claim("b", K)
    ledger.record("a", K, 1)
    assert ledger.claim("b", K) == 1
    ledger.record("b", K, 2)  # b drives
    ledger.record("a", K, 3)  # a drives again
    assert ledger.claim("b", K) == 3


def test_documents_name_the_drivers_latest_top_level_answer_per_url_and_pages_only_commits() -> None:
    ledger = Ledger()
    ledger.record("d", P1, 1, navigation=True, page=True)
    posted = key_for("POST", "http://a.test/two", "application/x-www-form-urlencoded", b"password=secret")
    ledger.record("d", posted, 2, navigation=True, page=True)  # a form post answered 200
    assert ledger.latest_document(P2.url) == 2  # what a follower's GET of that URL lands on
    ledger.record("d", key_for("POST", "http://a.test/login"), 3, navigation=True)  # a 302: no page
    assert ledger.current_page == 2
    assert ledger.latest_document("http://a.test/login") == 3


# -- the store: landing and pairing, with the waits they promise ------------------------------

LONG = 3600.0  # a wait the test would hang on: every match below must come at once


def _doc(status: int = 200, content_type: str = "text/html", **extra: str) -> Head:
    return Head(status, "OK", (("Content-Type", content_type), *extra.items()), "http://a.test/")


async def _record(store: ResponseStore, key: RequestKey, head: Head | None = None, *, page: bool = False) -> int:
    entry = await store.begin("d", key, head or _doc(content_type="text/css"), raw=False, document=page, page=page)
    await store.append(entry, b"x")
    await store.finish(entry)
    return entry.id


async def _match(store: ResponseStore, participant: str, key: RequestKey, **how: bool) -> int | None:
    entry = await asyncio.wait_for(store.match(participant, key, LONG, **how), 5)
    return None if entry is None else entry.id


def _store() -> ResponseStore:
    return ResponseStore(MemoryShared(), "s")


async def test_follower_get_lands_at_once_on_the_page_the_driver_got_by_posting() -> None:
    store = _store()
    await _record(store, P1, _doc(), page=True)
    posted = key_for("POST", P2.url, "application/x-www-form-urlencoded", b"name=ann&password=secret")
    answer = await _record(store, posted, _doc(), page=True)  # POST answered 200, no redirect
    assert await _match(store, "f", P2, navigation=True) == answer


async def test_follower_lands_on_the_final_page_of_a_post_and_redirect() -> None:
    store = _store()
    await _record(store, key_for("POST", "http://a.test/login", "text/plain", b"pw"), _doc(302, Location="/home"),
                  page=True)
    home = await _record(store, key_for("GET", "http://a.test/home"), _doc(), page=True)
    assert await _match(store, "f", key_for("GET", "http://a.test/home"), navigation=True) == home
    assert (await store.ledger()).page_of("f") == home


async def test_follower_back_on_a_page_gets_its_stylesheet_copy_not_the_other_pages() -> None:
    store = _store()
    await _record(store, P1, _doc(), page=True)
    await _record(store, CSS)
    await _record(store, P2, _doc(), page=True)
    css_two = await _record(store, CSS)
    again = await _record(store, P1, _doc(), page=True)
    assert await _match(store, "f", P1, navigation=True) == again
    # Not page two's copy (no-cache, so the driver fetches it again for this page): it waits for that.
    waiting = asyncio.ensure_future(_match(store, "f", CSS))
    await asyncio.wait_for(store.until_waiting(), 5)
    css_again = await _record(store, CSS)
    assert await waiting == css_again
    assert css_again != css_two


async def test_follower_on_a_page_the_driver_left_is_not_kept_waiting() -> None:
    store = _store()
    first = await _record(store, P1, _doc(), page=True)
    css_one = await _record(store, CSS)
    assert await _match(store, "f", P1, navigation=True) == first
    assert await _match(store, "f", CSS) == css_one
    await _record(store, P2, _doc(), page=True)
    await _record(store, CSS)
    # The follower's page asks once more; the driver's copy of that page asked once and left.
    assert await _match(store, "f", CSS) == css_one


async def test_route_the_driver_reached_by_pushstate_is_served_its_page_at_once() -> None:
    store = _store()
    spa = await _record(store, page("http://a.test/spa"), _doc(), page=True)
    route = page("http://a.test/spa/one")
    assert await _match(store, "f", route, navigation=True, spa_route=True) == spa


async def test_late_joiner_lands_on_the_page_the_driver_went_back_to() -> None:
    store = _store()
    first = await _record(store, P1, _doc(), page=True)
    await _record(store, P2, _doc(), page=True)  # then back to P1 from the browser's cache: no request
    assert await _match(store, "late", P1, navigation=True, spa_route=True) == first


def test_latest_and_latest_loose_name_the_fallbacks() -> None:
    ledger = Ledger()
    post_a = key_for("POST", "http://a.test/f", "text/plain", b"a")
    post_b = key_for("POST", "http://a.test/f", "text/plain", b"b")
    ledger.record("d", post_a, 1)
    assert ledger.latest(post_b) is None
    assert ledger.latest_loose(post_b) == 1
    assert ledger.latest(post_a) == 1


@pytest.mark.parametrize("value", ["k3jd9qzmxwa", "q0wzxhvtrpe", "4fzyqu2ksl"])
def test_base36_random_tokens_with_one_digit_are_volatile(value: str) -> None:
    assert volatile_placeholder(value) == "{token}"
