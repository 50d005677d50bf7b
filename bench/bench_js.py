"""Speed of the JavaScript rewriter (``rewriter/js.py``) and of the parsers it was chosen from.

Run from the repository root (see bench/README.md for getting the bundles):
    python bench/bench_js.py [--rounds 7] [--bundles ~/.cache/cobrowse-bench-js/node_modules]

Inputs: large real scripts found on this machine: the npm bundles under ``--bundles`` (react-dom,
monaco-editor, three, jquery, lodash, @codemirror/view) and the scripts that installed Python
packages ship (Django admin's, Playwright's driver bundles). Nothing is downloaded here.

For each input, the median over ``--rounds`` of CPU time (``time.process_time``) of:
- ``parse``: tree-sitter-javascript parse alone;
- ``rewrite (cold)``: ``rewrite_js_bytes``, the substring check, parse and edits;
- ``cached``: what a server does for a script it has rewritten before (``ScriptCache``: SHA-256
  of the body and a look-up);
- other parsers when importable in this interpreter: ``oxc_python`` (Rust, via PyO3) and
  ``esprima`` (pure Python, timed on the small inputs only), and acorn in Node when ``node``
  and acorn are installed beside the bundles.
Figures are MB/s over all inputs (total bytes / total of per-input medians). Each rewritten
output is parsed again and must have no error (counted as ``broken``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rewriter.js import parses, rewrite_js_bytes  # noqa: E402
from rewriter.js_cache import ScriptCache  # noqa: E402

NPM_BUNDLES = [
    "react-dom/cjs/react-dom-client.production.js",
    "react-dom/cjs/react-dom-client.development.js",
    "monaco-editor/min/vs/editor-*.js",
    "monaco-editor/min/vs/language/typescript/ts.worker.js",
    "three/build/three.module.js",
    "three/build/three.core.js",
    "jquery/dist/jquery.min.js",
    "jquery/dist/jquery.js",
    "lodash/lodash.js",
    "@codemirror/view/dist/index.js",
]
SMALL = 400_000  # esprima only below this size: it runs at tens of KB/s


def package_dir(package: str) -> Path | None:
    """Where an installed package lives: imported here, or else in the project's ``.venv`` (when
    this is another interpreter, e.g. the candidates' venv)."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return next(iter(sorted(ROOT.glob(f".venv/lib/python3*/site-packages/{package}"))), None)


def python_scripts() -> list[Path]:
    found: list[Path] = []
    for package, pattern in [("django", "contrib/admin/static/admin/js/**/*.js"),
                             ("playwright", "driver/package/lib/*Bundle.js")]:
        base = package_dir(package)
        if base is not None:
            found += sorted(p for p in base.glob(pattern) if p.stat().st_size > 20_000)
    return found


def find_inputs(bundles: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in NPM_BUNDLES:
        found += sorted(bundles.glob(pattern))[:1]
    return found + python_scripts()


def median_time(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


ACORN_JS = (
    "const acorn = require(process.argv[1]); const fs = require('fs'); const out = {};"
    "for (const f of process.argv.slice(3)) { const s = fs.readFileSync(f, 'utf8'); const t = [];"
    " for (let i = 0; i < +process.argv[2]; i++) { const a = process.cpuUsage();"
    "  for (const type of ['script', 'module']) { try { acorn.parse(s, {ecmaVersion: 'latest', sourceType: type,"
    "   allowReturnOutsideFunction: true, allowHashBang: true}); break; } catch (e) {} }"
    "  const d = process.cpuUsage(a); t.push((d.user + d.system) / 1e6); }"
    " out[f] = t; } console.log(JSON.stringify(out));"
)


def acorn_rounds(bundles: Path, inputs: list[Path], rounds: int) -> dict[str, list[float]]:
    """Each input's parse times in one Node process, round by round: CPU time of the process
    (``process.cpuUsage``, so Node's GC and JIT threads count, as Python's process time does);
    start-up and reading the files are in none of them. Empty without node or acorn."""
    node = shutil.which("node")
    if node is None or not (bundles / "acorn").is_dir():
        return {}
    done = subprocess.run([node, "-e", ACORN_JS, str(bundles / "acorn"), str(rounds), *map(str, inputs)],
                          capture_output=True, text=True, check=False, timeout=1800)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def acorn_times(bundles: Path, inputs: list[Path], rounds: int) -> dict[str, float]:
    return {path: statistics.median(times) for path, times in acorn_rounds(bundles, inputs, rounds).items()}


def python_candidates() -> dict[str, Callable[[bytes], object]]:
    """The other Python parsers importable in this interpreter, by the name the tables show."""
    candidates: dict[str, Callable[[bytes], object]] = {}
    try:
        import oxc_python

        candidates["oxc_python.parse"] = lambda b: oxc_python.parse(b.decode("utf-8"))
    except ImportError:
        pass
    try:
        import esprima

        candidates["esprima.parseScript"] = lambda b: esprima.parseScript(b.decode("utf-8"), {"range": True})
    except ImportError:
        pass
    return candidates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--bundles", type=Path, default=Path.home() / ".cache" / "cobrowse-bench-js" / "node_modules")
    args = ap.parse_args()
    inputs = find_inputs(args.bundles)
    if not inputs:
        sys.exit("no scripts found; see bench/README.md")

    import tree_sitter_javascript
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_javascript.language()))
    candidates = python_candidates()

    rows = []
    totals: dict[str, float] = {}
    sizes: dict[str, int] = {}
    broken = 0
    cache = ScriptCache(max_bytes=1 << 30)
    for path in inputs:
        data = path.read_bytes()
        out = rewrite_js_bytes(data)
        ok = parses(data)
        broken += ok and not parses(out)
        edits = out.count(b"__cb$")
        cache.rewrite(data)
        timings = {
            "parse": median_time(lambda d=data: parser.parse(d), args.rounds),
            "rewrite (cold)": median_time(lambda d=data: rewrite_js_bytes(d), args.rounds),
            "cached": median_time(lambda d=data: cache.rewrite(d), args.rounds),
        }
        for name, fn in candidates.items():
            if name.startswith("esprima") and len(data) > SMALL:
                continue
            try:
                timings[name] = median_time(lambda d=data, f=fn: f(d), max(1, args.rounds // 2))
            except Exception:  # a parser that rejects the input: not timed
                continue
        for key, seconds in timings.items():
            totals[key] = totals.get(key, 0.0) + seconds
            sizes[key] = sizes.get(key, 0) + len(data)
        rows.append((path, len(data), ok, edits, timings))
    for path, seconds in acorn_times(args.bundles, inputs, args.rounds).items():
        totals["acorn (node)"] = totals.get("acorn (node)", 0.0) + seconds
        sizes["acorn (node)"] = sizes.get("acorn (node)", 0) + Path(path).stat().st_size

    print("| script | KB | parses | rewrites | parse MB/s | rewrite MB/s |\n| --- | ---: | --- | ---: | ---: | ---: |")
    for path, size, ok, edits, t in rows:
        name = "/".join(path.parts[-3:])
        print(f"| {name} | {size // 1024} | {'yes' if ok else 'no'} | {edits} | "
              f"{size / t['parse'] / 1e6:.1f} | {size / t['rewrite (cold)'] / 1e6:.1f} |")
    print(f"\n{len(rows)} scripts, {sum(r[1] for r in rows) / 1e6:.1f} MB, rounds={args.rounds}, "
          f"outputs that no longer parse: {broken}\n")
    print("| what was timed | MB/s (all inputs it ran on) |\n| --- | ---: |")
    for key, seconds in totals.items():
        print(f"| {key} ({sizes[key] / 1e6:.1f} MB) | {sizes[key] / seconds / 1e6:.1f} |")


if __name__ == "__main__":
    main()
