"""The compat apps a benchmark can stand up, found in the compatibility suite itself.

Every ``tests/compat/test_compat_*.py`` module starts its app in a fixture that yields a
``RunningApp`` (``compat_apps.start_app`` with its counting front). ``discover`` imports each
module and ``open_target`` runs that fixture's own function outside pytest (pytest keeps it as
the fixture's ``__wrapped__``): an app added to the suite is picked up with no change here, as
long as its fixture asks only for ``tmp_path_factory``, ``tmp_path`` or other app fixtures of
its module (an app that needs a second one, e.g. an identity provider, gets it started first).
A fixture may yield a tuple of apps (a sign-in across two origins): the first is the one the
page is on, and every app's host is routed, directly and through the proxy.
A module whose fixture asks for anything else is listed as skipped, with the reason.

The page a target is timed on is its app's ``LANDING`` entry, else the start of its feature
named "page load", else the start of its first feature (with that feature's credentials).

Django admin is not in the suite's format (``tests/test_e2e_django.py``): it is started here
from ``tests/django_target`` unless a compat module names an app with "django" in it.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import itertools
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
for _path in (ROOT, TESTS, TESTS / "compat"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# The page a first-time user opens, where it is not the first feature's start.
LANDING = {"httpbin": "/", "django-admin": "/admin/login/"}
PROVIDED = ("tmp_path_factory", "tmp_path")  # the pytest fixtures a compat app fixture may ask for


@dataclass(frozen=True, slots=True)
class Target:
    """A started app, as a browser (directly) and the proxy (upstream) reach it."""

    app: str
    host: str
    path: str
    credentials: tuple[str, str] | None
    routes: dict[str, int]  # host name -> loopback port, for every app the page may reach

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"

    def resolve_overrides(self) -> dict[str, tuple[str, int]]:
        return {f"{host}:80": ("127.0.0.1", port) for host, port in self.routes.items()}

    def host_resolver_rules(self) -> str:
        return ", ".join(f"MAP {host} 127.0.0.1:{port}" for host, port in self.routes.items())


@dataclass(frozen=True, slots=True)
class Entry:
    """One app the suite lists: ``open`` starts it (an async context manager of a ``Target``)."""

    app: str
    source: str
    open: Callable[[Path], contextlib.AbstractAsyncContextManager[Target]] | None
    skipped: str = ""


@dataclass(slots=True)
class _TempFactory:
    """What a fixture uses of pytest's ``tmp_path_factory``: numbered directories under one root."""

    root: Path
    _count: itertools.count[int] = field(default_factory=itertools.count)

    def mktemp(self, basename: str, numbered: bool = True) -> Path:
        path = self.root / (f"{basename}{next(self._count)}" if numbered else basename)
        path.mkdir(parents=True)
        return path


def _app_fixtures(module: Any) -> dict[str, Callable[..., Any]]:
    """The module's fixtures that yield a ``RunningApp``, by name, as plain async generator functions."""
    found = {}
    for name, value in vars(module).items():
        fn = getattr(value, "__wrapped__", None)
        if inspect.isasyncgenfunction(fn) and "RunningApp" in str(inspect.signature(fn).return_annotation):
            found[name] = fn
    return found


def _apps(value: Any) -> tuple[Any, ...]:
    """A fixture's value as apps: one ``RunningApp``, or several (the one the features visit first)."""
    return tuple(value) if isinstance(value, tuple) else (value,)


def _main_fixture(module: Any, fixtures: dict[str, Callable[..., Any]]) -> str:
    """The app the features visit: the one the ``modes`` fixture is opened on, else the last defined."""
    modes = getattr(getattr(module, "modes", None), "__wrapped__", None)
    asked = list(inspect.signature(modes).parameters) if modes is not None else []
    return next((name for name in asked if name in fixtures), list(fixtures)[-1])


def _unmet(fixtures: dict[str, Callable[..., Any]], name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    missing = []
    for param in inspect.signature(fixtures[name]).parameters:
        if param in fixtures and param not in seen:
            missing += _unmet(fixtures, param, seen | {name})
        elif param not in PROVIDED:
            missing.append(param)
    return missing


def _page(module: Any, app: str) -> tuple[str, tuple[str, str] | None]:
    features = list(getattr(module, "FEATURES", ()))
    chosen = next((f for f in features if f.name == "page load"), features[0] if features else None)
    path = LANDING.get(app, chosen.start if chosen is not None else "/")
    return path, (chosen.credentials if chosen is not None else None)


def _suite_entry(path: Path) -> Entry:
    module = importlib.import_module(path.stem)
    fixtures = _app_fixtures(module)
    features = getattr(module, "FEATURES", ())
    app = features[0].app if features else path.stem.removeprefix("test_compat_")
    source = f"tests/compat/{path.name}"
    if not fixtures:
        return Entry(app, source, None, "no fixture yields a RunningApp")
    main = _main_fixture(module, fixtures)
    missing = _unmet(fixtures, main)
    if missing:
        return Entry(app, source, None, f"its app fixture asks for {', '.join(sorted(set(missing)))}")
    page, credentials = _page(module, app)

    @contextlib.asynccontextmanager
    async def open_suite_app(tmp: Path) -> AsyncIterator[Target]:
        started: dict[str, Any] = {}
        async with contextlib.AsyncExitStack() as stack:
            provided: dict[str, Any] = {"tmp_path_factory": _TempFactory(tmp), "tmp_path": tmp}

            async def start(name: str) -> Any:
                if name not in started:
                    kwargs = {}
                    for param in inspect.signature(fixtures[name]).parameters:
                        kwargs[param] = provided[param] if param in provided else await start(param)
                    started[name] = await stack.enter_async_context(
                        contextlib.asynccontextmanager(fixtures[name])(**kwargs))
                return started[name]

            running = _apps(await start(main))
            routes = {other.host: other.front_port for value in started.values() for other in _apps(value)}
            yield Target(app, running[0].host, page, credentials, routes)

    return Entry(app, source, open_suite_app)


@contextlib.asynccontextmanager
async def _open_django(tmp: Path) -> AsyncIterator[Target]:
    from django_target.server import HOST, start_django

    async with start_django(tmp) as target:
        yield Target("django-admin", HOST, LANDING["django-admin"], None, {HOST: target.port})


def discover(only: set[str] | None = None) -> list[Entry]:
    """Every app the suite lists (``only``: those named), plus Django admin from tests/django_target."""
    entries = [_suite_entry(path) for path in sorted((TESTS / "compat").glob("test_compat_*.py"))]
    if not any("django" in entry.app.lower() for entry in entries):
        entries.append(Entry("django-admin", "tests/django_target", _open_django))
    return [entry for entry in entries if only is None or entry.app in only]
