"""A session's options (``sessions.options``): parsed from the API strictly, kept as JSON, and
the session's domain lists narrowing the server's target policy (``proxy.targets.policy_for``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.cli import config_from, parse_args
from proxy.targets import policy_for
from sessions.model import Session
from sessions.options import MAX_SELECTORS, SessionOptions, parse_options
from sessions.policy import TargetPolicy

DEFAULTS = SessionOptions(mask_selectors=("#server-mask",), hide_selectors=(".server-hide",))


def session(options: SessionOptions) -> Session:
    return Session(id="s", target_url="http://a.test/", created_at=0.0, expires_at=1.0, leader_id="l",
                   options=options)


def test_absent_options_are_the_server_defaults_and_given_ones_replace_or_add() -> None:
    assert parse_options(None, DEFAULTS) is DEFAULTS
    got = parse_options({"view_only": True, "consent": False, "mask_selectors": ["#card", "#server-mask"],
                         "hide_selectors": [" .ssn "], "allow_domains": ["*.Example.COM", "b.test."],
                         "deny_domains": [".evil.example.com"]}, DEFAULTS)
    assert got == SessionOptions(allow_domains=("example.com", "b.test"), deny_domains=("evil.example.com",),
                                 view_only=True, consent=False, mask_selectors=("#server-mask", "#card"),
                                 hide_selectors=(".server-hide", ".ssn"))


@pytest.mark.parametrize(("raw", "message"), [
    ([], '"options" must be an object'),
    ({"viewonly": True}, "unknown field(s) 'viewonly'"),
    ({"view_only": "yes"}, '"options.view_only" must be true or false'),
    ({"mask_selectors": "#a"}, '"options.mask_selectors" must be a list of non-empty strings'),
    ({"mask_selectors": [""]}, "must be a list of non-empty strings"),
    ({"hide_selectors": ["#a{}"]}, "is not a plain CSS selector"),
    ({"hide_selectors": ["a</style>"]}, "is not a plain CSS selector"),
    ({"mask_selectors": ["a;b"]}, "is not a plain CSS selector"),
    ({"mask_selectors": ["#a"] * (MAX_SELECTORS + 1)}, f"at most {MAX_SELECTORS} are allowed"),
    ({"mask_selectors": ["a" * 301]}, "is longer than 300 characters"),
    ({"allow_domains": ["exa mple.com"]}, "is not a domain pattern"),
    ({"allow_domains": ["a.test/x"]}, "no scheme, path, port or spaces"),
    ({"deny_domains": ["http://a.test/"]}, "is not a domain pattern"),
    ({"deny_domains": [1]}, "must be a list of non-empty strings"),
])
def test_bad_options_are_refused_with_a_message_naming_the_field(raw: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_options(raw, DEFAULTS)
    assert message in str(caught.value)


@given(st.builds(SessionOptions, allow_domains=st.lists(st.sampled_from(["a.test", "b.example"])).map(tuple),
                 deny_domains=st.lists(st.sampled_from(["c.test"])).map(tuple), view_only=st.booleans(),
                 consent=st.booleans(), mask_selectors=st.lists(st.sampled_from(["#a", ".b c"])).map(tuple),
                 hide_selectors=st.lists(st.sampled_from(["[data-x]"])).map(tuple)))
def test_options_round_trip_through_the_sessions_json(options: SessionOptions) -> None:
    assert Session.from_json(session(options).to_json()).options == options


def test_sessions_stored_before_options_existed_read_as_the_defaults() -> None:
    data = session(SessionOptions()).to_json()
    del data["options"]
    assert Session.from_json(data).options == SessionOptions()


def test_a_sessions_domain_lists_narrow_the_servers_policy_and_name_the_session_in_refusals() -> None:
    server = TargetPolicy.for_server(deny=["blocked.test"])
    options = parse_options({"allow_domains": ["a.test", "blocked.test"], "deny_domains": ["x.a.test"]},
                            SessionOptions())
    policy = policy_for(server, session(options))
    assert policy.judge("a.test", 80) is None and policy.judge("y.a.test", 80) is None
    assert "session's deny list" in str(policy.judge("x.a.test", 80))
    assert "session's allow list" in str(policy.judge("other.test", 80))
    assert "server's deny list" in str(policy.judge("blocked.test", 80))  # a session cannot reopen it
    assert policy_for(server, session(SessionOptions())) is server


def test_serve_flags_set_the_server_defaults_and_bad_selectors_stop_the_server() -> None:
    config = config_from(parse_args(["serve", "--mask-selector", "#ssn", "--hide-selector", ".secret",
                                     "--view-only", "--no-consent"]))
    assert config.session_defaults == SessionOptions(view_only=True, consent=False, mask_selectors=("#ssn",),
                                                     hide_selectors=(".secret",))
    assert config_from(parse_args(["serve"])).session_defaults == SessionOptions()
    with pytest.raises(SystemExit, match="not a plain CSS selector"):
        config_from(parse_args(["serve", "--mask-selector", "a{}"]))
