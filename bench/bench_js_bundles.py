"""JavaScript rewriting on the bundles of the compatibility suite's apps, beside the parse alone.

Run from the repository root:
    .venv/bin/python bench/bench_js_bundles.py [--rounds 7] [--bundles ~/.cache/cobrowse-bench-js/node_modules]

Inputs: every ``.js`` file the compat apps serve, as installed (``APPS``: mkdocs-material's
bundle, search worker and lunr languages; Jupyter Notebook 7's webpack chunks; Django admin's
scripts and vendored libraries; httpbin's front page, flasgger's Swagger UI 3; Dash's React,
renderer and component bundles; Datasette's CodeMirror and scripts). Found through
this interpreter's packages, or the project's ``.venv`` when run from another interpreter (the
candidates' venv, see bench/README.md). Nothing is downloaded.

Each round times every file, one after the other, in this order, on CPU time
(``time.process_time``) of this process:

- ``parse``: tree-sitter-javascript's parse alone (the baseline: what any rewrite must pay);
- ``cold``: what the server does the first time it serves the script: ``ScriptCache.rewrite``
  on an empty cache (the substring check ``rewriter.js.may_rewrite``, SHA-256, parse, edits,
  insertion);
- ``cached``: the same call again on a cache that holds the script (SHA-256 and a look-up; a
  script in which none of the rewritten names occurs returns before hashing);
- other Python parsers importable here (``bench_js.python_candidates``; esprima only on files
  under ``bench_js.SMALL``).

acorn in Node, when ``node`` and acorn (installed beside the npm bundles, see bench/README.md)
are there, parses the same files in one Node process, ``--rounds`` times each: CPU time of the
Node process (``process.cpuUsage``), Node's start-up and reading the files excluded; its
start-up (``node`` loading acorn, wall time, median of 5 runs) is reported on its own. Its first
rounds run before the JIT has warmed up: the median is of warm rounds when ``--rounds`` >= 5.

A set's MB/s for one round is its bytes over the sum of its files' times in that round; the
report gives the median over rounds and the spread (min..max). Every rewritten output must
parse again (``broken`` counts those that do not).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench_js import SMALL, acorn_rounds, package_dir, python_candidates

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rewriter.js import may_rewrite, parses  # noqa: E402
from rewriter.js_cache import ScriptCache  # noqa: E402


@dataclass(frozen=True, slots=True)
class AppBundles:
    """Where one compat app's scripts are installed: a package and globs inside it."""

    app: str
    package: str
    globs: tuple[str, ...]


APPS = (
    AppBundles("mkdocs-material", "material", ("templates/assets/javascripts/**/*.js",)),
    AppBundles("Jupyter Notebook 7", "notebook", ("static/**/*.js",)),
    AppBundles("Django admin", "django", ("contrib/admin/static/admin/js/**/*.js",)),
    AppBundles("httpbin (flasgger Swagger UI 3)", "flasgger", ("ui3/static/**/*.js",)),
    # Dash's production builds (not its *.dev.js, nor dash_table, which the compat app does not use)
    AppBundles("Dash", "dash", ("deps/*.min.js", "dash-renderer/build/*.min.js", "dcc/*.js", "html/*.js")),
    AppBundles("Datasette", "datasette", ("static/**/*.js",)),
)
LARGE = 500_000  # files at least this big get a row of their own, and those the rewriter parses
# (``parsed``: ``may_rewrite``, a name it rewrites occurs) from
PARSED = 100_000  # this size up
PARSE, COLD, CACHED, ACORN = "tree-sitter parse", "rewrite, cold", "rewrite, cached", "acorn 8 in Node"


@dataclass(slots=True)
class Script:
    app: str
    path: Path
    data: bytes
    times: dict[str, list[float]] = field(default_factory=dict)  # kind -> one time per round

    @property
    def name(self) -> str:
        return "/".join(self.path.parts[-2:])


def find_scripts() -> list[Script]:
    scripts: list[Script] = []
    for app in APPS:
        base = package_dir(app.package)
        if base is None:
            print(f"{app.app}: package {app.package!r} not installed, left out", file=sys.stderr)
            continue
        paths = sorted({p for pattern in app.globs for p in base.glob(pattern) if p.is_file()})
        scripts += [Script(app.app, p, p.read_bytes()) for p in paths]
    return scripts


def cpu_time(fn: Callable[[bytes], object], data: bytes) -> float:
    start = time.process_time()
    fn(data)
    return time.process_time() - start


def run_round(scripts: list[Script], parse: Callable[[bytes], object],
              candidates: dict[str, Callable[[bytes], object]]) -> None:
    for script in scripts:
        data = script.data
        cache = ScriptCache(max_bytes=1 << 30)
        timed = {PARSE: cpu_time(parse, data), COLD: cpu_time(cache.rewrite, data),
                 CACHED: cpu_time(cache.rewrite, data)}
        for name, fn in candidates.items():
            if name.startswith("esprima") and len(data) > SMALL:
                continue
            try:
                timed[name] = cpu_time(fn, data)
            except Exception:  # a parser that rejects the input: not timed
                continue
        for kind, seconds in timed.items():
            script.times.setdefault(kind, []).append(seconds)


def node_startup(bundles: Path) -> float | None:
    node = shutil.which("node")
    if node is None or not (bundles / "acorn").is_dir():
        return None
    walls = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([node, "-e", "require(process.argv[1])", str(bundles / "acorn")], check=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def rates(scripts: Iterable[Script], kind: str) -> tuple[float, list[float]] | None:
    """(MB timed, MB/s of each round) over the scripts that ``kind`` ran on."""
    ran = [s for s in scripts if s.times.get(kind)]
    if not ran:
        return None
    size = sum(len(s.data) for s in ran)
    rounds = min(len(s.times[kind]) for s in ran)
    return size / 1e6, [size / 1e6 / sum(s.times[kind][r] for s in ran) for r in range(rounds)]


def cell(found: tuple[float, list[float]] | None) -> str:
    if found is None:
        return ""
    _, per_round = found
    return f"{statistics.median(per_round):,.1f} ({min(per_round):,.1f}..{max(per_round):,.1f})"


def report(scripts: list[Script], kinds: list[str], rounds: int, startup: float | None) -> None:
    broken = sum(1 for s in scripts if parses(s.data) and not parses(ScriptCache().rewrite(s.data)))
    head = "| " + " | ".join(["scripts", "files", "MB", "parsed", *[f"{k} MB/s" for k in kinds]]) + " |"
    print(head + "\n|" + " --- |" * 4 + " ---: |" * len(kinds))
    groups = [(app.app, [s for s in scripts if s.app == app.app]) for app in APPS]
    for name, group in [*groups, ("**all**", scripts)]:
        if group:
            cells = " | ".join(cell(rates(group, k)) for k in kinds)
            print(f"| {name} | {len(group)} | {sum(len(s.data) for s in group) / 1e6:.2f} | "
                  f"{sum(may_rewrite(s.data) for s in group)} | {cells} |")
    print("\n| bundle | app | KB | parsed | " + " | ".join(f"{k} MB/s" for k in kinds) + " |")
    print("| --- | --- | ---: | --- |" + " ---: |" * len(kinds))
    shown = [s for s in scripts if len(s.data) >= LARGE or (may_rewrite(s.data) and len(s.data) >= PARSED)]
    for s in sorted(shown, key=lambda s: -len(s.data)):
        print(f"| {s.name} | {s.app} | {len(s.data) // 1024} | {'yes' if may_rewrite(s.data) else 'no'} | "
              + " | ".join(cell(rates([s], k)) for k in kinds) + " |")
    print(f"\nmedian (min..max) over {rounds} rounds; rewritten outputs that no longer parse: {broken}")
    if startup is not None:
        print(f"Node start-up with acorn loaded (not in the acorn figures): {startup * 1000:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--bundles", type=Path, default=Path.home() / ".cache" / "cobrowse-bench-js" / "node_modules",
                    help="node_modules holding acorn (the Node reference); optional")
    ap.add_argument("--candidate", action="append",
                    help="time only this other Python parser (oxc_python, esprima; repeatable); default: all")
    args = ap.parse_args()
    scripts = find_scripts()
    if not scripts:
        sys.exit("no compat app is installed in this interpreter or in .venv")

    import tree_sitter_javascript
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_javascript.language()))
    candidates = {name: fn for name, fn in python_candidates().items()
                  if args.candidate is None or name.split(".")[0] in args.candidate}
    load_at_start = os.getloadavg()[0]
    for _ in range(args.rounds):
        run_round(scripts, parser.parse, candidates)
    acorn = acorn_rounds(args.bundles, [s.path for s in scripts], args.rounds)
    for script in scripts:
        if str(script.path) in acorn:
            script.times[ACORN] = acorn[str(script.path)]
    kinds = [PARSE, COLD, CACHED, *candidates, *([ACORN] if acorn else [])]
    report(scripts, kinds, args.rounds, node_startup(args.bundles) if acorn else None)
    print(f"load average (1 min) {load_at_start:.1f} at start, {os.getloadavg()[0]:.1f} at end, "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
