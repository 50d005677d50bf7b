"""sessions.seed: a visitor's cookies, storage and form values parsed, bounded and planted."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from world.apikeys import create_key
from world.harness import StartCobrowse
from world.integrator_site import SHOP, ShopSettings, shop
from world.targets import start_world

from sessions.cookies import CookieJar
from sessions.seed import (
    MAX_COOKIES,
    MAX_STORAGE_CHARS,
    Seed,
    parse_cookies,
    parse_form,
    parse_seed,
    parse_storage,
    plant_cookies,
)

NOW = 1_700_000_000.0
TARGET = "https://shop.example/cart?x=1"


def test_cookies_planted_in_the_jar_are_sent_upstream_httponly_included() -> None:
    cookies = parse_cookies([{"name": "sid", "value": "s3cret", "httpOnly": True},
                             {"name": "theme", "value": "dark", "path": "/cart"}], NOW)
    jar = CookieJar()
    assert plant_cookies(jar, cookies, TARGET, NOW) == 2
    assert jar.cookie_header("https://shop.example/cart/1", NOW, context="same-site") == "theme=dark; sid=s3cret"
    assert jar.cookie_header("https://shop.example/", NOW, context="same-site") == "sid=s3cret"
    # HttpOnly stays out of document.cookie, as on the real site.
    assert jar.document_cookie("https://shop.example/cart", NOW) == "theme=dark"


def test_a_cookie_the_target_could_not_have_set_is_dropped_by_the_jar() -> None:
    cookies = parse_cookies([{"name": "a", "value": "1", "domain": "other.example"},
                             {"name": "b", "value": "2", "domain": ".shop.example"}], NOW)
    jar = CookieJar()
    assert plant_cookies(jar, cookies, TARGET, NOW) == 1
    assert jar.cookie_header("https://www.shop.example/", NOW, context="same-site") == "b=2"


def test_expired_cookies_are_skipped_and_expiry_is_kept() -> None:
    cookies = parse_cookies([{"name": "old", "value": "1", "expires": NOW - 5},
                             {"name": "new", "value": "2", "expires": NOW + 60}], NOW)
    assert [c.name for c in cookies] == ["new"]
    jar = CookieJar()
    plant_cookies(jar, cookies, TARGET, NOW)
    assert jar.cookie_header(TARGET, NOW + 30, context="same-site") == "new=2"
    assert jar.cookie_header(TARGET, NOW + 61, context="same-site") is None


@pytest.mark.parametrize("bad, words", [
    ("sid=1", "must be a list"),
    ([{"value": "x"}], '[0].name" must be a non-empty string'),
    ([{"name": "a;b", "value": "x"}], "must not contain"),
    ([{"name": "a", "value": "x\r\nSet-Cookie: evil=1"}], "must not contain"),
    ([{"name": "a", "value": "x", "path": "/; Domain=evil"}], "path must start"),
    ([{"name": "a", "value": "x", "secure": "yes"}], "secure\" must be true or false"),
    ([{"name": "a", "value": "x", "colour": 1}], "unknown field"),
    ([{"name": "a", "value": "x", "sameSite": "sometimes"}], "sameSite"),
    ([{"name": "a", "value": "x", "expires": True}], "expires"),
    ([{"name": f"c{i}", "value": "x"} for i in range(MAX_COOKIES + 1)], f"at most {MAX_COOKIES}"),
])
def test_bad_cookies_are_refused_naming_the_field(bad: object, words: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        parse_cookies(bad, NOW)
    assert words in str(caught.value)
    assert "options.cookies" in str(caught.value)


def test_storage_is_for_the_target_origin_only() -> None:
    origin, local, session = parse_storage({"https://shop.example": {"local": {"k": "v"}, "session": {"s": "1"}}},
                                           TARGET)
    assert (origin, local, session) == ("https://shop.example", {"k": "v"}, {"s": "1"})
    with pytest.raises(ValueError, match="only the target's origin"):
        parse_storage({"https://evil.example": {"local": {"k": "v"}}}, TARGET)
    with pytest.raises(ValueError, match="string keys and string values"):
        parse_storage({"https://shop.example": {"local": {"k": 1}}}, TARGET)
    with pytest.raises(ValueError, match='"local" and/or "session"'):
        parse_storage({"https://shop.example": {"indexeddb": {}}}, TARGET)


def test_storage_size_is_bounded() -> None:
    big = {"https://shop.example": {"local": {"k": "x" * MAX_STORAGE_CHARS}}}
    with pytest.raises(ValueError, match="at most"):
        parse_storage(big, TARGET)


def test_form_values_are_for_a_page_of_the_target() -> None:
    form = parse_form({"url": "https://shop.example/checkout#top",
                       "fields": [{"name": "city", "value": "Oslo"}, {"selector": "#zip", "value": "0150"}]}, TARGET)
    assert form is not None and form.url == "https://shop.example/checkout"
    assert [(f.selector, f.name, f.value) for f in form.fields] == [("", "city", "Oslo"), ("#zip", "", "0150")]
    with pytest.raises(ValueError, match="page of the target's origin"):
        parse_form({"url": "https://evil.example/", "fields": []}, TARGET)
    with pytest.raises(ValueError, match='"selector" or "name"'):
        parse_form({"fields": [{"value": "x"}]}, TARGET)


def test_a_seed_reaches_only_pages_of_its_origin_and_the_form_only_its_url() -> None:
    seed = parse_seed({"https://shop.example": {"local": {"k": "v"}}},
                      {"url": "https://shop.example/checkout", "fields": [{"name": "q", "value": "1"}]}, TARGET)
    assert seed.for_page("https://other.example", "https://other.example/checkout") is None
    page = seed.for_page("https://shop.example", "https://shop.example/")
    assert page == {"local": {"k": "v"}, "session": {}}
    form_page = seed.for_page("https://shop.example", "https://shop.example/checkout#x")
    assert form_page is not None and form_page["form"] == [{"selector": "", "name": "q", "value": "1"}]
    assert Seed.from_json(seed.to_json()) == seed
    assert Seed().for_page("https://shop.example", TARGET) is None


# -- over HTTP: a seeded session's pages carry the seed once per participant ----------------------


async def test_each_participant_page_takes_the_seed_once(start_server: StartCobrowse, tmp_path: Path) -> None:
    settings = ShopSettings()
    world = await start_world({SHOP: shop(settings)})
    try:
        server = await start_server(resolve_overrides=world.resolve_overrides(), data_dir=str(tmp_path))
        key = create_key(tmp_path, "shop", "--site", "--origin", f"http://{SHOP}")
        headers = {"Origin": f"http://{SHOP}", "Content-Type": "text/plain"}
        registered = await server.request("POST", f"{server.control}/snippet/v1/visitor", cookies={}, headers=headers,
                                          data=json.dumps({"key": key, "url": f"http://{SHOP}/account"}).encode())
        token = json.loads(registered.body)["token"]
        start = {"key": key, "token": token, "url": f"http://{SHOP}/account",
                 "storage": {"local": {"cart": "3 apples"}}, "form": {"fields": [{"name": "city", "value": "Oslo"}]}}
        started = await server.request("POST", f"{server.control}/snippet/v1/start", cookies={}, headers=headers,
                                       data=json.dumps(start).encode())
        entered = await server.redeem(json.loads(started.body)["enter_url"])
        page = entered.header("Location") or ""

        def seed_in(body: str) -> Any:
            found = re.search(r'data-cb="([^"]*)"', body)
            assert found is not None, body[:300]
            return json.loads(html.unescape(found.group(1)))["seed"]

        first = seed_in((await server.request("GET", page)).text)
        again = seed_in((await server.request("GET", page)).text)
        assert first == {"local": {"cart": "3 apples"}, "session": {},
                         "form": [{"selector": "", "name": "city", "value": "Oslo"}]}
        assert again is None  # a reload does not put back what the page has since changed
    finally:
        await world.close()
