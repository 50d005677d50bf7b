"""The timeline a session's audit records fold into (``sessions.timeline``), as data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sessions.audit_record import Exchange, Record, event
from sessions.timeline import MAX_ITEMS, build_timeline

T0 = 1_700_000_000.0
PAGE = "http://a.test/"


def story() -> list[Record]:
    return [
        event(T0, "pL", "created", url=PAGE, agent="Ann"),
        Exchange(T0 + 1, "pL", "upstream", "GET", PAGE, 200, 200, 0, 900, navigation=True),
        event(T0 + 2, "pF", "joined", role="follower", name="Vic"),
        Exchange(T0 + 3, "pF", "store", "GET", PAGE, 200, 0, 0, 900, navigation=True),
        event(T0 + 4, "pL", "control", controller="pF"),
        Exchange(T0 + 5, "pF", "upstream", "POST", PAGE + "login", 302, 302, 20, 0),
        event(T0 + 5.5, "pF", "navigation", url=PAGE + "home"),
        Exchange(T0 + 6, "pF", "upstream", "GET", PAGE + "missing.png", 404, 404, 0, 10),
        Exchange(T0 + 7, "pL", "store", "GET", PAGE + "big", 502, 0, 0, 0, error="too large to share"),
        event(T0 + 8, "pF", "left"),
        event(T0 + 9, "pL", "control", controller="pL"),
        event(T0 + 10, "pL", "ended", by="api"),
    ]


def test_lanes_control_navigations_and_errors_tell_the_sessions_story() -> None:
    t = build_timeline(story(), buckets=10)
    assert (t["start"], t["end"]) == (T0, T0 + 10)
    assert t["participants"] == [
        {"id": "pL", "role": "leader", "name": "Ann", "spans": [[T0, T0 + 10]]},
        {"id": "pF", "role": "follower", "name": "Vic", "spans": [[T0 + 2, T0 + 8]]},
    ]
    assert t["control"] == [["pL", T0, T0 + 4], ["pF", T0 + 4, T0 + 9], ["pL", T0 + 9, T0 + 10]]
    assert t["navigations"] == [{"time": T0 + 5.5, "participant": "pF", "url": PAGE + "home"}]
    assert [(e["status"], e["error"]) for e in t["errors"]] == [(404, ""), (502, "too large to share")]
    assert [e["name"] for e in t["events"]] == ["created", "joined", "control", "navigation", "left", "control",
                                               "ended"]
    rows = t["traffic"]["buckets"]
    assert len(rows) == 10 and t["traffic"]["bucket_seconds"] == 1.0
    assert sum(r["upstream"] for r in rows) == 3 and sum(r["store"] for r in rows) == 2
    assert sum(r["errors"] for r in rows) == 2 and sum(r["bytes"] for r in rows) == 1810


def test_without_navigation_events_the_drivers_upstream_page_loads_are_the_navigations() -> None:
    records = [r for r in story() if getattr(r, "name", "") != "navigation"]
    assert build_timeline(records)["navigations"] == [{"time": T0 + 1, "participant": "pL", "url": PAGE}]


def test_a_live_session_keeps_its_spans_open_and_ends_now() -> None:
    t = build_timeline(story()[:4], now=T0 + 60)
    assert t["end"] == T0 + 60
    assert [p["spans"] for p in t["participants"]] == [[[T0, None]], [[T0 + 2, None]]]
    assert t["control"] == [["pL", T0, None]]


def test_an_empty_trail_is_an_empty_timeline() -> None:
    t = build_timeline([], now=T0)
    assert t["participants"] == [] and t["errors"] == [] and t["start"] == t["end"] == T0


def test_long_trails_stay_bounded_and_say_what_was_left_out() -> None:
    records = [Exchange(T0 + i, "pL", "upstream", "GET", f"{PAGE}{i}", 500, 500) for i in range(MAX_ITEMS + 7)]
    t = build_timeline(records, buckets=5000)
    assert len(t["errors"]) == MAX_ITEMS and t["truncated"] == {"errors": 7}
    assert len(t["traffic"]["buckets"]) == 1000
    assert sum(r["errors"] for r in t["traffic"]["buckets"]) == MAX_ITEMS + 7


@given(st.lists(st.tuples(st.floats(0, 1e6), st.sampled_from(["upstream", "store", "proxy", "odd"]),
                          st.integers(100, 599)), max_size=50), st.integers(1, 100))
def test_every_exchange_is_counted_in_exactly_one_bucket(rows: list[tuple[float, str, int]], buckets: int) -> None:
    records = [Exchange(T0 + at, "p", path, "GET", PAGE, status) for at, path, status in rows]
    traffic = build_timeline(records, buckets=buckets)["traffic"]["buckets"]
    assert sum(r["upstream"] + r["store"] + r["proxy"] for r in traffic) == len(rows)
    assert sum(r["errors"] for r in traffic) == sum(1 for _, _, s in rows if s >= 400)
