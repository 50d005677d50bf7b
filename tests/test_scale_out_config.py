"""What every process of a deployment reads from the one configuration (docs/scale-out.md).

- ``deploy/cobrowse.toml``, the documented shared file, loads as it is: the domain, the balancer's
  public URL (its port goes into every URL a browser sees), the Redis store and the shared keys;
  each process's own port and data directory come from its environment, over the file;
- a process on a shared store whose signing key was made for this run says so when it starts
  (its participants would be refused by every other process); one given a key, or on the memory
  store, says nothing of it.
"""

from __future__ import annotations

from pathlib import Path

from proxy.cli import SHARED_STORE_NEEDS_KEY, banner, config_from, parse_args
from proxy.config import Config

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "deploy" / "cobrowse.toml"


def test_deploy_example_gives_every_process_the_same_settings_and_each_its_own_port_and_data_dir() -> None:
    args = parse_args(["serve", "--config", str(SHARED)])
    one = config_from(args, {"COBROWSE_PORT": "8081", "COBROWSE_DATA_DIR": "/var/lib/cobrowse/1"})
    two = config_from(args, {"COBROWSE_PORT": "8082", "COBROWSE_DATA_DIR": "/var/lib/cobrowse/2"})
    assert (one.port, one.data_dir) == (8081, "/var/lib/cobrowse/1")
    assert (two.port, two.data_dir) == (8082, "/var/lib/cobrowse/2")
    for config in (one, two):
        assert config.control_origin == "http://cobrowse.localhost:8080"  # the balancer, not the process
        assert config.store.startswith("redis://")
        assert not config.secret_key_generated and not config.api_key_generated
    assert (one.domain, one.store, one.secret_key, one.api_key) == (two.domain, two.store, two.secret_key,
                                                                    two.api_key)


def test_a_process_on_a_shared_store_with_a_signing_key_of_its_own_warns_at_start() -> None:
    assert SHARED_STORE_NEEDS_KEY in banner(Config(store="redis://127.0.0.1:6379/0"), "")
    assert SHARED_STORE_NEEDS_KEY not in banner(Config(store="redis://127.0.0.1:6379/0", secret_key=b"k" * 32), "")
    assert SHARED_STORE_NEEDS_KEY not in banner(Config(), "")
