"""The HAR and mitmproxy encoders on scripted records: what a trail with bodies exports to.

The trail keeps bodies only when configured; these scripts hold some, so the tests prove what
such a trail becomes: response bodies as base64 content, a UTF-8 request body as ``postData``
text (others base64), ``pageref``s that follow navigations (a navigation's own exchange on its
new page), redacted values kept as stored, and a HAR that Chromium, offline, serves a page and
its subresource from. The mitmproxy flows carry the same bodies byte for byte, their headers
as recorded (no Content-Length added; Content-Encoding dropped where a body is kept, since the trail
keeps bodies decoded), and the events.
The schema check is shown to fail on a HAR missing a required field.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import jsonschema
import pytest
from mitmproxy.io import FlowReader
from playwright.async_api import Browser, Request

from proxy.audit_mitm import MitmStream
from sessions.audit_chain import Link
from sessions.audit_har import HarStream
from sessions.audit_record import Exchange, Record, event

HAR_SCHEMA = json.loads((Path(__file__).parent / "har12.schema.json").read_text("utf-8"))
T0 = 1_760_000_000.0
PAGE = b"<!doctype html><title>kept</title><link rel=stylesheet href=/style.css><p id=p>hello</p>"
STYLE = b"#p { color: rgb(1, 2, 3); }"
GZIPPED = bytes(range(256))  # not UTF-8, kept decoded though the target's header says gzip


def script() -> list[Record]:
    html = (("Content-Type", "text/html; charset=utf-8"),)
    return [
        event(T0, "", "created", url="http://kept.test/", agent="a1"),
        event(T0 + 0.1, "p1", "joined", role="leader", name="Ann"),
        Exchange(T0 + 1, "p1", "upstream", "GET", "http://kept.test/", 200, 200, 0, len(PAGE), 5.0, 7.5,
                 "text/html; charset=utf-8", request_headers=(("Cookie", "REDACTED"), ("Accept", "*/*")),
                 response_headers=html, response_body=PAGE, navigation=True, redacted=("header:cookie",)),
        event(T0 + 1, "p1", "navigation", url="http://kept.test/"),
        Exchange(T0 + 2, "p1", "upstream", "GET", "http://kept.test/style.css", 200, 200, 0, len(STYLE), 1.0, 2.0,
                 "text/css", response_headers=(("Content-Type", "text/css"),), response_body=STYLE),
        Exchange(T0 + 3, "p1", "upstream", "POST", "http://kept.test/form?x=1&ticket=REDACTED", 303, 303, 9, 0,
                 3.0, 3.0, "", "http://kept.test/done",
                 request_headers=(("Content-Type", "application/x-www-form-urlencoded"),),
                 response_headers=(("Location", "http://kept.test/done"), ("Set-Cookie", "REDACTED")),
                 request_body=b"a=1&b=two"),
        Exchange(T0 + 4, "p2", "store", "GET", "http://kept.test/blob", 200, 200, 0, len(GZIPPED), 0.5, 1.0,
                 "application/octet-stream",
                 response_headers=(("Content-Type", "application/octet-stream"), ("Content-Encoding", "gzip")),
                 response_body=GZIPPED),
        Exchange(T0 + 5, "p1", "proxy", "PUT", "http://kept.test/upload", 0, 0, 0, 0, 0.0, 1.0,
                 request_body=b"\xff\xfe", error="aborted"),
        event(T0 + 6, "", "ended", by="api"),
    ]


def links(records: list[Record]) -> list[Link]:
    return [Link(n, "k1", f"{n - 1:064x}", b"", b"", f"{n:064x}") for n in range(1, len(records) + 1)]


def har_of(records: list[Record]) -> str:
    stream = HarStream("sess", "9.9")
    return stream.start() + "".join(stream.push(link.seq, link.hash, r) for link, r in
                                    zip(links(records), records, strict=True)) + stream.finish()


def test_har_of_a_trail_with_bodies_is_valid_and_keeps_bodies_pages_and_redactions() -> None:
    har = json.loads(har_of(script()))
    jsonschema.validate(har, HAR_SCHEMA)
    log = har["log"]
    entries = log["entries"]
    assert [e["request"]["url"] for e in entries] == [
        "http://kept.test/", "http://kept.test/style.css", "http://kept.test/form?x=1&ticket=REDACTED",
        "http://kept.test/blob", "http://kept.test/upload"]
    assert [p["title"] for p in log["pages"]] == ["http://kept.test/"]
    assert all(e["pageref"] == "page_1" for e in entries)
    assert base64.b64decode(entries[0]["response"]["content"]["text"]) == PAGE
    assert entries[0]["response"]["content"]["encoding"] == "base64"
    assert entries[0]["request"]["cookies"] == [{"name": "", "value": "REDACTED", "comment": "redacted before storage"}]
    assert (entries[0]["time"], entries[0]["timings"]["wait"], entries[0]["timings"]["receive"]) == (7.5, 5.0, 2.5)
    assert (entries[0]["_seq"], entries[0]["_participant"], entries[0]["_path"]) == (3, "p1", "upstream")
    form = entries[2]
    assert form["request"]["postData"] == {"mimeType": "application/x-www-form-urlencoded", "params": [],
                                           "text": "a=1&b=two"}
    assert form["request"]["queryString"] == [{"name": "x", "value": "1"}, {"name": "ticket", "value": "REDACTED"}]
    assert (form["response"]["status"], form["response"]["statusText"], form["response"]["redirectURL"]) == (
        303, "See Other", "http://kept.test/done")
    assert base64.b64decode(entries[3]["response"]["content"]["text"]) == GZIPPED
    upload = entries[4]
    assert upload["request"]["postData"]["_encoding"] == "base64"
    assert base64.b64decode(upload["request"]["postData"]["text"]) == b"\xff\xfe"
    assert (upload["response"]["status"], upload["_error"]) == (0, "aborted")
    assert [e["name"] for e in log["_events"]] == ["created", "joined", "navigation", "ended"]


def test_a_navigation_exchange_opens_its_page_and_earlier_entries_keep_theirs() -> None:
    def get(t: float, url: str, navigation: bool) -> Exchange:
        return Exchange(t, "p1", "upstream", "GET", url, 200, 200, navigation=navigation)

    records: list[Record] = [
        get(T0, "http://a.test/", True), event(T0, "p1", "navigation", url="http://a.test/"),
        get(T0 + 1, "http://a.test/x.js", False),
        get(T0 + 2, "http://a.test/b", True), event(T0 + 2, "p1", "navigation", url="http://a.test/b"),
        get(T0 + 3, "http://a.test/frame", True),  # a navigation that did not commit a page: no event
        get(T0 + 4, "http://a.test/late.js", False), event(T0 + 5, "p1", "navigation", url="http://a.test/c"),
    ]
    entries = json.loads(har_of(records))["log"]["entries"]
    assert [e["pageref"] for e in entries] == ["page_1", "page_1", "page_2", "page_2", "page_2"]


def test_the_schema_refuses_a_har_missing_a_required_field() -> None:
    har = json.loads(har_of(script()))
    del har["log"]["entries"][1]["response"]["redirectURL"]
    with pytest.raises(jsonschema.ValidationError, match="redirectURL"):
        jsonschema.validate(har, HAR_SCHEMA)
    har = json.loads(har_of(script()))
    har["log"]["entries"][0]["request"]["notInHar"] = 1  # custom fields start with "_"
    with pytest.raises(jsonschema.ValidationError, match="notInHar"):
        jsonschema.validate(har, HAR_SCHEMA)


def test_mitmproxy_flows_carry_the_bodies_and_headers_exactly_as_recorded() -> None:
    records = script()
    stream = MitmStream("sess")
    data = stream.start() + b"".join(stream.push(link, r) for link, r in zip(links(records), records, strict=True))
    data += stream.finish()
    flows = list(FlowReader(io.BytesIO(data)).stream())
    assert stream.flows == len(flows) == 5
    page, style, form, blob, upload = flows
    assert page.response is not None and page.response.raw_content == PAGE
    assert list(page.request.headers.items(multi=True)) == [("Cookie", "REDACTED"), ("Accept", "*/*")]
    assert list(page.response.headers.items(multi=True)) == [("Content-Type", "text/html; charset=utf-8")]
    assert (page.response.timestamp_start, page.response.timestamp_end) == (T0 + 1.005, T0 + 1.0075)
    assert [e["name"] for e in page.metadata["cobrowse"]["events"]] == ["created", "joined"]
    assert [e["name"] for e in style.metadata["cobrowse"]["events"]] == ["navigation"]
    assert form.request.raw_content == b"a=1&b=two" and "content-length" not in form.request.headers
    assert blob.response is not None and blob.response.raw_content == GZIPPED
    assert "Content-Encoding" not in blob.response.headers and blob.response.content == GZIPPED
    assert (blob.metadata["cobrowse"]["participant"], blob.metadata["cobrowse"]["path"]) == ("p2", "store")
    assert upload.response is None and upload.error is not None and upload.error.msg == "aborted"
    assert [e["name"] for e in upload.metadata["cobrowse"]["events_after"]] == ["ended"]
    # the same trail exports to the same bytes
    again = MitmStream("sess")
    assert again.start() + b"".join(again.push(link, r) for link, r in zip(links(records), records, strict=True)) \
        + again.finish() == data


async def test_chromium_offline_serves_a_page_and_its_subresource_from_a_har_with_bodies(
        browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "kept.har"
    path.write_text(har_of(script()), "utf-8")
    context = await browser.new_context()
    try:
        await context.set_offline(True)
        await context.route_from_har(path, not_found="abort")
        asked: list[str] = []

        def on_request(request: Request) -> None:
            asked.append(request.url)

        context.on("request", on_request)
        page = await context.new_page()
        await page.goto("http://kept.test/")
        color = await page.eval_on_selector("#p", "p => getComputedStyle(p).color")
        assert (await page.title(), await page.text_content("#p"), color) == ("kept", "hello", "rgb(1, 2, 3)")
        assert asked == ["http://kept.test/", "http://kept.test/style.css"]
    finally:
        await context.close()
