"""The compat apps a benchmark can stand up, found in the compatibility suite itself.

Every ``tests/compat/test_compat_*.py`` module stands up its apps in its ``modes`` fixture,
made by ``compat_fixture.modes_fixture(name, start)``: ``start(tmp_dir, exit_stack)`` starts the
module's apps (the first is the one the features open, the others further origins it reaches).
``discover`` imports each module and takes that ``start`` from the fixture function's closure,
so an app added to the suite is timed with no change here. A module in the older form (a
fixture that yields a ``RunningApp`` itself) has that fixture run outside pytest (pytest keeps
its function as ``__wrapped__``) when it asks only for ``tmp_path_factory`` / ``tmp_path``. A
module the bench cannot start is listed as skipped, with the reason.

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
from collections.abc import AsyncIterator, Awaitable, Callable
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


Start = Callable[[Path, contextlib.AsyncExitStack], Awaitable[tuple[Any, ...]]]


def _start_of_modes(module: Any) -> Start | None:
    """The ``start`` a module's ``modes`` fixture was made with (``compat_fixture.modes_fixture``),
    read from the fixture function's closure."""
    modes = getattr(getattr(module, "modes", None), "__wrapped__", None)
    if modes is None:
        return None
    start = inspect.getclosurevars(modes).nonlocals.get("start")
    return start if callable(start) else None


def _apps(value: Any) -> tuple[Any, ...]:
    """A fixture's value as apps: one ``RunningApp``, or several (the one the features visit first)."""
    return tuple(value) if isinstance(value, tuple) else (value,)


def _start_of_fixture(module: Any) -> Start | str:
    """The older form, a fixture that yields the app itself, run as a ``Start``; else why not."""
    fixtures = {}
    for name, value in vars(module).items():
        fn = getattr(value, "__wrapped__", None)
        if inspect.isasyncgenfunction(fn) and "RunningApp" in str(inspect.signature(fn).return_annotation):
            fixtures[name] = fn
    if not fixtures:
        return "no modes_fixture start and no fixture that yields a RunningApp"
    modes = getattr(getattr(module, "modes", None), "__wrapped__", None)
    asked = list(inspect.signature(modes).parameters) if modes is not None else []
    fixture = fixtures[next((name for name in asked if name in fixtures), list(fixtures)[-1])]
    params = list(inspect.signature(fixture).parameters)
    if any(param not in PROVIDED for param in params):
        return f"its app fixture asks for {', '.join(p for p in params if p not in PROVIDED)}"

    async def start(root: Path, stack: contextlib.AsyncExitStack) -> tuple[Any, ...]:
        provided: dict[str, Any] = {"tmp_path_factory": _TempFactory(root), "tmp_path": root}
        opened = contextlib.asynccontextmanager(fixture)(**{param: provided[param] for param in params})
        return _apps(await stack.enter_async_context(opened))

    return start


def _page(module: Any, app: str) -> tuple[str, tuple[str, str] | None]:
    features = list(getattr(module, "FEATURES", ()))
    chosen = next((f for f in features if f.name == "page load"), features[0] if features else None)
    path = LANDING.get(app, chosen.start if chosen is not None else "/")
    return path, (chosen.credentials if chosen is not None else None)


def _suite_entry(path: Path) -> Entry:
    module = importlib.import_module(path.stem)
    features = getattr(module, "FEATURES", ())
    app = features[0].app if features else path.stem.removeprefix("test_compat_")
    source = f"tests/compat/{path.name}"
    start = _start_of_modes(module) or _start_of_fixture(module)
    if isinstance(start, str):
        return Entry(app, source, None, start)
    page, credentials = _page(module, app)

    @contextlib.asynccontextmanager
    async def open_suite_app(tmp: Path) -> AsyncIterator[Target]:
        async with contextlib.AsyncExitStack() as stack:
            apps = await start(tmp, stack)
            yield Target(app, apps[0].host, page, credentials, {a.host: a.front_port for a in apps})

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
