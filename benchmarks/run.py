"""Run every benchmark module and print one Markdown table (``make bench``).

Modules are discovered, not listed: each ``benchmarks/bench_<name>.py`` exposes ``SECTIONS`` (see
:mod:`common`), so a new game or trainer adds a file and nothing here changes. The table is also written to
``runs/bench/latest.md`` and ``runs/bench/latest.json`` so a run can be compared with the next one.

Usage::

    .venv/bin/python benchmarks/run.py               # everything (~2 minutes on 2 shared cores)
    .venv/bin/python benchmarks/run.py --quick       # fewer repeats, smaller workloads
    .venv/bin/python benchmarks/run.py --only gp     # one module; ``--only gp.reset`` for one section
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # so bench modules can ``import common`` however run.py is started

from common import Context, Result, environment, fmt_value, render_markdown, to_json  # noqa: E402

Section = Callable[[Context], list[Result]]


def discover() -> dict[str, ModuleType | BaseException]:
    """``{name: module}`` for every ``bench_<name>.py``; an import failure is kept and reported, not raised."""
    found: dict[str, ModuleType | BaseException] = {}
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        try:
            found[name] = importlib.import_module(path.stem)
        except Exception as err:
            found[name] = err
    return found


def section_name(fn: Section) -> str:
    return fn.__name__.removeprefix("bench_")


def selected(module: str, section: str | None, only: Sequence[str]) -> bool:
    """``--only gp`` keeps a module, ``--only gp.reset`` one section of it; no filter keeps everything."""
    if not only:
        return True
    for f in only:
        mod, _, sec = f.partition(".")
        if mod == module and (not sec or section is None or sec == section):
            return True
    return False


def run_section(module: str, fn: Section, ctx: Context) -> list[Result]:
    title = (fn.__doc__ or section_name(fn)).strip().splitlines()[0]
    ctx.log(f"\n## {module}.{section_name(fn)}: {title}")
    t0 = time.perf_counter()
    try:
        results = fn(ctx)
    except Exception as err:
        traceback.print_exc()
        results = [Result("(section failed)", "time", None, error=f"{type(err).__name__}: {err}")]
    for r in results:
        r.section = r.section or module
        shown = r.error or f"{fmt_value(r.ours, r.unit)} (baseline {fmt_value(r.baseline, r.unit)})"
        ctx.log(f"   -> {r.name}: {shown}")
    ctx.log(f"   ({time.perf_counter() - t0:.1f} s)")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller workloads")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="module (gp) or module.section; repeatable"
    )
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default 5, quick 3)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench", help="where latest.md/json go")
    parser.add_argument("--list", action="store_true", help="list modules and sections, run nothing")
    args = parser.parse_args(argv)
    argv_list = list(sys.argv[1:] if argv is None else argv)

    modules = discover()
    if args.list:
        for name, mod in modules.items():
            sections = getattr(mod, "SECTIONS", ()) if isinstance(mod, ModuleType) else ()
            print(name, " ".join(section_name(s) for s in sections) or f"(import failed: {mod!r})")
        return 0
    unknown = [f for f in args.only if f.partition(".")[0] not in modules]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {sorted(modules)}")

    ctx = Context(quick=args.quick, repeats=args.repeats or (3 if args.quick else 5))
    env = environment()
    print(
        f"Python {env['python']} | CPU count {env['cpu_count']} (usable {env['cpus_usable']}) | "
        f"torch threads: {env['torch_threads']} | repeats {ctx.repeats}{' (quick)' if args.quick else ''}"
    )
    t0 = time.perf_counter()
    results: list[Result] = []
    for name, mod in modules.items():
        if not selected(name, None, args.only):
            continue
        if isinstance(mod, BaseException):
            results.append(Result("(import failed)", "time", None, error=f"{type(mod).__name__}: {mod}", section=name))
            continue
        for fn in getattr(mod, "SECTIONS", ()):
            if selected(name, section_name(fn), args.only):
                results.extend(run_section(name, fn, ctx))
    wall_s = time.perf_counter() - t0

    table = render_markdown(env, results, wall_s=wall_s, argv=argv_list)
    print("\n" + table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(table, encoding="utf-8")
    (args.out / "latest.json").write_text(to_json(env, results, wall_s=wall_s, argv=argv_list), encoding="utf-8")
    print(f"written to {args.out / 'latest.md'} and {args.out / 'latest.json'}")
    errors = [r for r in results if r.status == "ERROR"]
    if errors:
        print(f"{len(errors)} benchmark(s) reported an error (see the table); the run itself completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
