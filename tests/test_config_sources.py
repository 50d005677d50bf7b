"""Where ``Config`` comes from (``proxy.settings``): a TOML file, ``COBROWSE_<KEY>`` variables and
``serve``'s flags, merged once with file < environment < flags; each default declared once.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy import settings
from proxy.audit_writer import AuditSettings
from proxy.cli import build_parser, config_from, parse_args
from proxy.config import Config
from proxy.upstream import UpstreamSettings
from sessions.lifecycle import Lifecycle
from sessions.options import OptionLimits, SessionOptions
from sessions.responses import ResponseLimits
from sessions.service import Lifetimes

# Config fields that are no setting of their own: what sets them instead.
NOT_A_SETTING = {
    "public_scheme": "public_url", "public_port": "public_url", "resolve_overrides": "resolve",
    "session_defaults": "mask_selectors, hide_selectors, view_only, consent",
    "api_key_generated": "made by Config itself",
    "secret_key_generated": "made by Config itself",
}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cobrowse.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def load(argv: list[str], environ: dict[str, str]) -> Config:
    return config_from(parse_args(["serve", *argv]), environ)


def test_file_then_environment_then_flags_each_wins_over_the_one_before(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 1111\nmax_followers = 3\nallow_domains = ["file.example"]\n'
                           'follower_wait = 4.5\nview_only = true\n')
    only_file = load(["--config", path], {})
    assert (only_file.port, only_file.max_followers, only_file.allow_domains) == (1111, 3, ("file.example",))
    assert only_file.follower_wait == 4.5 and only_file.session_defaults.view_only is True

    env = {"COBROWSE_PORT": "2222", "COBROWSE_ALLOW_DOMAINS": "env.example, env2.example",
           "COBROWSE_VIEW_ONLY": "no"}
    with_env = load(["--config", path], env)
    assert (with_env.port, with_env.max_followers) == (2222, 3)  # env over file; the file's others stay
    assert with_env.allow_domains == ("env.example", "env2.example")
    assert with_env.session_defaults.view_only is False

    with_flags = load(["--config", path, "--port", "3333", "--allow-domain", "flag.example", "--view-only"], env)
    assert with_flags.port == 3333 and with_flags.allow_domains == ("flag.example",)  # a list is replaced whole
    assert with_flags.max_followers == 3 and with_flags.session_defaults.view_only is True


def test_the_file_can_come_from_cobrowse_config_and_a_flag_beats_it(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 1111\n")
    assert load([], {"COBROWSE_CONFIG": path}).port == 1111
    other = tmp_path / "other.toml"
    other.write_text("port = 4444\n", encoding="utf-8")
    assert load(["--config", str(other)], {"COBROWSE_CONFIG": path}).port == 4444


def test_absent_everywhere_means_configs_own_default(tmp_path: Path) -> None:
    config = load([], {"XDG_DATA_HOME": str(tmp_path)})
    for setting in settings.SETTINGS:
        if setting.key in {f.name for f in dataclasses.fields(Config)} and setting.key not in (
                "api_key", "secret_key", "data_dir"):
            assert getattr(config, setting.key) == settings.default(setting.key), setting.key
    assert config.session_defaults == SessionOptions()
    assert config.data_dir == str(tmp_path / "cobrowse")
    assert config.api_key_generated


@pytest.mark.parametrize(("text", "words"), [
    ("prot = 8080\n", ["unknown key 'prot'", "did you mean 'port'"]),
    ("[serve]\nport = 1\n", ["unknown key 'serve'"]),
    ('port = "8080"\n', ["port must be an integer"]),
    ("allow_domains = \"a.example\"\n", ["allow_domains must be an array of strings"]),
    ("port = \n", ["not valid TOML"]),
])
def test_a_bad_file_stops_the_server_naming_the_file_and_key(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SystemExit) as stopped:
        load(["--config", path], {})
    message = str(stopped.value)
    assert path in message
    for word in words:
        assert word in message


def test_a_bad_variable_or_a_missing_file_stops_the_server_naming_it() -> None:
    with pytest.raises(SystemExit, match=r"\$COBROWSE_PORT 'eighty'"):
        load([], {"COBROWSE_PORT": "eighty"})
    with pytest.raises(SystemExit, match="must be one of"):
        load([], {"COBROWSE_LOG_FORMAT": "xml"})
    with pytest.raises(SystemExit, match=r"(?i)no such file"):
        load(["--config", "/nonexistent/cobrowse.toml"], {})


def test_secrets_come_from_the_environment_or_the_file_and_have_no_flag(tmp_path: Path) -> None:
    secret_flags = [s for s in settings.SETTINGS if s.key in ("secret_key", "audit_keys")]
    assert secret_flags and all(s.flag is None for s in secret_flags)
    path = write(tmp_path, 'secret_key = "file-signing-key-0123456789"\napi_key = "file-api-key-0123456789"\n')
    config = load(["--config", path], {"COBROWSE_AUDIT_KEYS": "k1:" + "A" * 44})
    assert config.secret_key == b"file-signing-key-0123456789"
    assert config.api_key == "file-api-key-0123456789" and not config.api_key_generated
    assert config.audit_keys == "k1:" + "A" * 44
    with pytest.raises(SystemExit):
        parse_args(["serve", "--secret-key", "x"])


def test_derived_settings_become_their_config_fields(tmp_path: Path) -> None:
    path = write(tmp_path, 'public_url = "https://cobrowse-example.com"\nresolve = ["app.test:80=127.0.0.1:8000"]\n'
                           'mask_selectors = ["#ssn"]\nconsent = false\n')
    config = load(["--config", path], {})
    assert (config.public_scheme, config.public_port) == ("https", 443)
    assert config.resolve_overrides == {"app.test:80": ("127.0.0.1", 8000)}
    assert config.session_defaults == SessionOptions(mask_selectors=("#ssn",), consent=False)
    with pytest.raises(SystemExit, match="HOST:PORT=IP:PORT"):
        load(["--resolve", "nonsense"], {})


def test_every_config_field_is_a_setting_or_says_what_sets_it() -> None:
    keys = {s.key for s in settings.SETTINGS}
    for field in dataclasses.fields(Config):
        assert field.name in keys or field.name in NOT_A_SETTING, (
            f"Config.{field.name} has no row in proxy.settings.SETTINGS: add one (key, kind, help, flag)")


def test_module_settings_take_their_defaults_from_config() -> None:
    upstream, audit = UpstreamSettings(), AuditSettings()
    defaults = Config(api_key="k" * 16)
    assert upstream.max_ws_message == defaults.max_ws_message == 4 * 1024 * 1024  # was 16 MiB in upstream.py
    assert upstream.max_rewrite_body == defaults.max_rewrite_body
    assert (upstream.connect_timeout, upstream.read_timeout, upstream.total_deadline) == (
        defaults.connect_timeout, defaults.read_timeout, defaults.total_deadline)
    assert audit.queue == defaults.audit_queue


def test_the_sessions_layers_defaults_are_the_ones_config_reads() -> None:
    defaults = Config(api_key="k" * 16)
    life, limits, lifetimes, responses = Lifecycle(), OptionLimits(), Lifetimes(), ResponseLimits()
    assert (life.lifetime, life.idle_timeout, life.retention) == (
        defaults.session_lifetime, defaults.idle_timeout, defaults.retention)
    assert lifetimes.session == defaults.session_lifetime  # was 8 h against Config's 2 h
    assert lifetimes.ticket == defaults.ticket_lifetime
    assert (limits.max_followers, limits.max_expires_in) == (defaults.max_followers, defaults.max_session_lifetime)
    assert (responses.max_response, responses.budget) == (defaults.share_max_response, defaults.share_budget)


def test_the_app_hands_configs_websocket_cap_to_the_upstream_client() -> None:
    from proxy.app import upstream_settings

    config = Config(api_key="k" * 16, max_ws_message=12345)
    assert upstream_settings(config).max_ws_message == 12345


def test_every_help_is_complete_and_says_each_flags_default() -> None:
    run = [sys.executable, "-m", "proxy.cli"]
    top = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True).stdout
    assert "serve" in top and "audit" in top
    serve = subprocess.run([*run, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(serve.split())
    for setting in settings.SETTINGS:
        if setting.flag is not None:
            assert setting.flag in flat
            assert f"env: {setting.env}" in flat, setting.key
        else:
            assert setting.env in flat
    assert flat.count("(default:") >= len(settings.SETTINGS)
    for verb in (["audit"], ["audit", "verify"], ["audit", "export"], ["audit", "keys"]):
        shown = subprocess.run([*run, *verb, "--help"], capture_output=True, text=True, check=True).stdout
        assert shown.startswith("usage: cobrowse " + " ".join(verb))


def test_the_readmes_config_file_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load(["--config", write(tmp_path, example)], {})
    assert config.domain == "cobrowse-example.com" and config.public_scheme == "https"
    assert config.log_format == "json" and config.shutdown_grace == 20.0


def test_a_mistyped_variable_is_named_with_its_close_match_and_secrets_stay_out_of_repr() -> None:
    found = settings.unknown_environ({"COBROWSE_PROT": "1", "COBROWSE_PORT": "2", "COBROWSE_CONFIG": "x",
                                      "HOME": "/root"})
    assert found == ["COBROWSE_PROT (did you mean COBROWSE_PORT?)"]
    config = load([], {"COBROWSE_API_KEY": "api-key-in-repr?-0123", "COBROWSE_SECRET_KEY": "signing-in-repr?-0123"})
    assert "api-key-in-repr" not in repr(config) and "signing-in-repr" not in repr(config)


def test_a_whole_number_in_the_file_is_a_number_of_seconds_all_the_same(tmp_path: Path) -> None:
    config = load(["--config", write(tmp_path, "session_lifetime = 600\nfollower_wait = 2\n")], {})
    assert config.session_lifetime == 600.0 and isinstance(config.follower_wait, float)


def test_every_flag_of_every_subcommand_says_what_it_does_and_its_default() -> None:
    def flags(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from flags(sub, f"{path} {name}")
            elif action.option_strings and not isinstance(action, argparse._HelpAction):
                yield path, action

    found = list(flags(build_parser(), "cobrowse"))
    assert {path for path, _ in found} >= {"cobrowse serve", "cobrowse audit export"}
    for path, action in found:
        text = action.help or ""
        assert len(text) > 20 and "default" in text, f"{path} {action.option_strings[0]}: {text!r}"


def test_a_bad_body_redaction_pattern_stops_the_server_saying_which_setting() -> None:
    with pytest.raises(SystemExit, match="audit body redaction"):
        load(["--audit-redact-regex", "("], {})
