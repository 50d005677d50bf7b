"""Several real ``cobrowse serve`` processes on one real Redis behind a real HAProxy (issue 10).

``running_cluster(apps, nodes=2)`` serves the target sites ``apps`` (``Cluster.world``, with its hit
log) and starts, in order:
- ``ClusterRedis``: Debian's ``redis-server`` on a loopback port of its own, with an append-only
  file (fsync on every write) in its own directory, so that ``stop()`` and ``start()`` again on the
  same port keep every key, as a production Redis with persistence would;
- ``Node`` s: ``python -m proxy.cli serve`` subprocesses, each on its own port and data directory,
  all with the same secret key, API key, domain, store URL and resolve overrides (the fixture
  world's targets), and ``--public-url`` naming the balancer's port (the port in every URL a
  browser sees); each logs JSON lines to a file of its own (``Node.events``);
- ``Balancer``: HAProxy run from ``deploy/haproxy.cfg`` itself, with only its ``bind`` and ``server``
  lines replaced (``render_haproxy``): HTTP mode, roundrobin per request, WebSockets passed,
  ``/livez`` checked every 500 ms. Its log (one line per request: server and Host, see the
  ``log-format`` there) is how a test learns which process served which participant
  (``Balancer.served``): a proxy host carries the participant's view.

Ready means every process answers ``/livez`` and the balancer has sent requests to each one.
``module_fixtures(apps)`` gives a test module its ``browser`` and ``cluster`` fixtures.
``Cluster.front`` is a ``world.harness.Cobrowse`` client whose port is the balancer's: every
helper written for one server (``create_session``, ``world.party.start_pair``, scripted parties)
works through the balancer unchanged. ``haproxy_missing()`` says why the suite must skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from playwright.async_api import Browser
from redis.asyncio import Redis
from redis_server import free_port
from world.browser import module_chromium
from world.harness import API_KEY, DOMAIN, Cobrowse
from world.targets import AppFactory, World, open_world

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
REDIS_SERVER = "/usr/bin/redis-server"
HAPROXY = "/usr/sbin/haproxy"
SECRET_KEY = "cluster-secret-" + "k" * 32
READY_WITHIN = 60.0
POLL = 0.05

# One HAProxy log line (deploy/haproxy.cfg's log-format): client, frontend, backend/server,
# timers, status, bytes, {host}, "request line".
_LOG_LINE = re.compile(r'^\S+ \S+ (?P<backend>[^/\s]+)/(?P<server>\S+) \S+ (?P<status>-?\d+) \S+ '
                       r'\{(?P<host>[^}]*)\} "(?P<method>\S+) (?P<path>\S+)')


def haproxy_missing() -> str:
    """Why the cluster cannot run here ("" when it can)."""
    if shutil.which("haproxy") is None and not Path(HAPROXY).exists():
        return "haproxy is not installed (scripts/test installs Debian's haproxy package)"
    if shutil.which("redis-server") is None and not Path(REDIS_SERVER).exists():
        return "redis-server is not installed (scripts/test installs Debian's redis-server package)"
    return ""


async def _until(check: Any, what: str, within: float = READY_WITHIN) -> None:
    """Poll ``await check()`` until true (a readiness wait: positive, bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise RuntimeError(f"{what}: not ready within {within:g} s")
        await asyncio.sleep(POLL)


async def _answers(client: aiohttp.ClientSession, port: int, path: str = "/livez") -> bool:
    try:
        async with client.get(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{DOMAIN}:{port}"},
                              timeout=aiohttp.ClientTimeout(total=2)) as reply:
            return reply.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


@dataclass
class ClusterRedis:
    """A ``redis-server`` that can be stopped and started again on the same port, keeping its keys."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server") or REDIS_SERVER
        self.proc = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--dir", str(self.workdir), "--logfile", "", "--daemonize", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await _until(self._pong, f"redis-server on port {self.port}")

    async def _pong(self) -> bool:
        client = Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """SIGTERM (Redis flushes its append-only file) and wait for the exit."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 30)
        self.proc = None


@dataclass
class Node:
    """One ``cobrowse serve`` process: its own port, data directory and log file."""

    name: str
    port: int
    data_dir: Path
    argv: list[str]
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"serve-{self.name}.log"

    async def start(self, client: aiohttp.ClientSession) -> None:
        """Start the process (again: same port, same data directory) and wait for ``/livez``."""
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(*self.argv, cwd=ROOT, env=self.env,
                                                             stdout=log, stderr=log)
        await _until(lambda: self._alive_and(client), f"cobrowse {self.name} on port {self.port}")

    async def _alive_and(self, client: aiohttp.ClientSession) -> bool:
        if self.proc is None or self.proc.returncode is not None:
            raise RuntimeError(f"cobrowse {self.name} exited: {self.log_path.read_text()[-2000:]}")
        return await _answers(client, self.port)

    async def kill(self) -> None:
        """SIGKILL: no goodbye to anyone, as a crashed process."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        """SIGTERM: the graceful stop (``proxy.serving``)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                await self.kill()

    def events(self, event: str) -> list[dict[str, Any]]:
        """This process's JSON log records whose event is ``event`` (e.g. ``sync.open``)."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("event") == event:
                        found.append(record)
        return found


@dataclass(frozen=True, slots=True)
class Served:
    """One request as the balancer logged it."""

    server: str
    status: int
    host: str
    method: str
    path: str

    @property
    def view(self) -> str:
        """The participant view the proxy host carries ("" for the control plane)."""
        from rewriter.space import parse_proxy_host

        parsed = parse_proxy_host(self.host, DOMAIN)
        return parsed.view if parsed else ""


def render_haproxy(template: str, port: int, servers: Mapping[str, int]) -> str:
    """``template`` (deploy/haproxy.cfg) listening on ``port`` with exactly ``servers`` (name -> port)."""
    out: list[str] = []
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("bind "):
            out.append(f"    bind 127.0.0.1:{port}")
        elif stripped.startswith("server "):
            if not any(o.strip().startswith("server ") for o in out):
                out.extend(f"    server {name} 127.0.0.1:{p}" for name, p in servers.items())
        else:
            out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class Balancer:
    """HAProxy in front of the nodes, run in the foreground with its log in a file."""

    workdir: Path
    servers: dict[str, int]
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "haproxy.log"

    async def start(self) -> None:
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(render_haproxy(HAPROXY_CFG.read_text(), self.port, self.servers))
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(shutil.which("haproxy") or HAPROXY, "-db", "-f", str(cfg),
                                                             stdout=log, stderr=log)

    def served(self) -> list[Served]:
        """Every request logged so far (a WebSocket is logged when its tunnel closes)."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = _LOG_LINE.match(line)
            if match:
                found.append(Served(match["server"], int(match["status"]), match["host"].split(":")[0],
                                    match["method"], match["path"]))
        return found

    async def logged(self, match: Callable[[Served], bool], count: int, within: float = 10.0) -> list[Served]:
        """The logged requests ``match`` accepts, once there are ``count`` (HAProxy writes a line as a
        request ends, which may be just after its client has read the answer)."""
        found: list[Served] = []

        async def enough() -> bool:
            nonlocal found
            found = [s for s in self.served() if match(s)]
            return len(found) >= count

        await _until(enough, f"{count} matching lines in the balancer's log", within)
        return found

    def per_server(self, view: str) -> Counter[str]:
        """How many of the requests on proxy hosts of participant ``view`` each process served."""
        return Counter(s.server for s in self.served() if s.view == view)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 30)


@dataclass
class Cluster:
    redis: ClusterRedis
    nodes: list[Node]
    balancer: Balancer
    front: Cobrowse
    client: aiohttp.ClientSession
    world: World

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    async def front_reaches_every_node(self) -> None:
        """Requests through the balancer until its log shows each node serving one (its health
        checks passed): after the start, and after a node was started again."""
        names = {n.name for n in self.nodes}
        before = len(self.balancer.served())

        async def all_seen() -> bool:
            if self.balancer.proc is None or self.balancer.proc.returncode is not None:
                raise RuntimeError(f"haproxy exited: {self.balancer.log_path.read_text()[-2000:]}")
            await _answers(self.client, self.balancer.port)
            return names <= {s.server for s in self.balancer.served()[before:] if s.path == "/livez"}

        await _until(all_seen, "haproxy in front of " + ", ".join(sorted(names)))


def _argv(port: int, public_port: int, store: str, data_dir: Path,
          overrides: Mapping[str, tuple[str, int]], extra: Sequence[str]) -> list[str]:
    argv = [sys.executable, "-m", "proxy.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--domain", DOMAIN, "--public-url", f"http://{DOMAIN}:{public_port}", "--store", store,
            "--data-dir", str(data_dir), "--allow-private", "--log-format", "json", "--log-level", "info",
            "--shutdown-grace", "2"]
    for name, (ip, target_port) in overrides.items():
        argv += ["--resolve", f"{name}={ip}:{target_port}"]
    return [*argv, *extra]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
    env.update(COBROWSE_API_KEY=API_KEY, COBROWSE_SECRET_KEY=SECRET_KEY)
    return env


@contextlib.asynccontextmanager
async def running_cluster(apps: Mapping[str, AppFactory], nodes: int = 2,
                          extra: Sequence[str] = ()) -> AsyncIterator[Cluster]:
    """The target sites ``apps`` (``Cluster.world``), Redis, ``nodes`` cobrowse processes reaching
    those sites (``extra``: more ``serve`` flags for each), HAProxy in front."""
    async with open_world(apps) as world, _cluster(world, nodes, extra) as cluster:
        yield cluster


@contextlib.asynccontextmanager
async def _cluster(world: World, nodes: int, extra: Sequence[str]) -> AsyncIterator[Cluster]:
    overrides = world.resolve_overrides()
    with tempfile.TemporaryDirectory(prefix="cobrowse-cluster-") as tmp:
        workdir = Path(tmp)
        (workdir / "redis").mkdir()
        redis = ClusterRedis(workdir / "redis")
        ports = {f"cobrowse{i}": free_port() for i in range(1, nodes + 1)}
        balancer = Balancer(workdir, ports)
        started: list[Node] = []
        client = aiohttp.ClientSession(auto_decompress=False)
        front = Cobrowse(port=balancer.port, config=None, runner=None, client=client)  # type: ignore[arg-type]
        try:
            await redis.start()
            for name, port in ports.items():
                data_dir = workdir / name
                data_dir.mkdir()
                started.append(Node(name, port, data_dir,
                                    _argv(port, balancer.port, redis.url, data_dir, overrides, extra), _env()))
            await asyncio.gather(*(node.start(client) for node in started))
            await balancer.start()
            cluster = Cluster(redis, started, balancer, front, client, world)
            await cluster.front_reaches_every_node()
            yield cluster
        finally:
            await balancer.stop()
            for node in started:
                await node.stop()
            await redis.stop()
            await client.close()


def module_fixtures(apps: Mapping[str, AppFactory], extra: Sequence[str] = ()) -> tuple[Any, Any]:
    """A test module's ``browser`` (one Chromium) and ``cluster`` (``running_cluster(apps, extra=extra)``)
    fixtures, both started once for the module: ``browser_fixture, cluster_fixture = module_fixtures(...)``."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="browser")
    async def browser_fixture() -> AsyncIterator[Browser]:
        async with module_chromium() as launched:
            yield launched

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="cluster")
    async def cluster_fixture() -> AsyncIterator[Cluster]:
        async with running_cluster(apps, extra=extra) as running:
            yield running

    return browser_fixture, cluster_fixture
