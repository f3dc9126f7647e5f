"""Timing helpers and the result table shared by every ``bench_*.py`` module.

The machines we run on are shared and noisy (2 cores, other jobs), so every number is a median over several
repeats, and every benchmark that has a baseline times it in the same run, side by side: the *ratio* stays
meaningful even when the absolute numbers drift with the machine's load.

A benchmark module (``benchmarks/bench_<name>.py``) exposes ``SECTIONS``: a sequence of functions that take a
:class:`Context` and return a list of :class:`Result`. ``run.py`` finds the modules, runs the sections and
renders one table. Section names are the function names without the ``bench_`` prefix.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SINGLE_THREAD_NOTE = "pure Python, one process, one thread: these numbers are per core"

Unit = Literal["rate", "time", "MB"]


@dataclass
class Context:
    """What a benchmark section may read: how hard to try, and where to print progress."""

    quick: bool = False
    repeats: int = 5
    seed: int = 0
    log: Callable[[str], None] = print

    def scaled(self, full: int, quick: int) -> int:
        """A workload size: ``full`` normally, ``quick`` under ``--quick``."""
        return quick if self.quick else full


@dataclass
class Result:
    """One row of the table. ``ours``/``baseline`` are in base units: items per second, seconds, or MB.

    ``target`` is a lower bound for rates and an upper bound for times; ``None`` means no target.
    """

    name: str
    unit: Unit
    ours: float | None
    baseline: float | None = None
    target: float | None = None
    note: str = ""
    error: str | None = None
    section: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    ratio_target: float | None = None
    """A target on the ratio to the same-run baseline instead of on the absolute number (noise-robust)."""

    @property
    def ratio(self) -> float | None:
        """How many times faster ours is than the baseline (> 1: ours is faster), whatever the unit."""
        if self.ours is None or self.baseline is None or self.ours <= 0 or self.baseline <= 0:
            return None
        return self.ours / self.baseline if self.unit == "rate" else self.baseline / self.ours

    @property
    def status(self) -> str:
        if self.error is not None:
            return "ERROR"
        if self.ratio_target is not None:
            return "-" if self.ratio is None else ("PASS" if self.ratio >= self.ratio_target else "FAIL")
        if self.target is None or self.ours is None:
            return "-"
        ok = self.ours >= self.target if self.unit == "rate" else self.ours < self.target
        return "PASS" if ok else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, status=self.status)
        return data


def error_result(name: str, unit: Unit, err: BaseException, section: str = "", target: float | None = None) -> Result:
    """A row that reports a failure instead of crashing the whole run (e.g. a module being rewritten)."""
    return Result(name, unit, None, target=target, error=f"{type(err).__name__}: {err}", section=section)


# --- timing -------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall-clock seconds of each repeat; the median is what we report (robust to a noisy neighbour)."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """(max - min) / median: a quick look at how noisy the repeats were."""
        m = self.median
        return (max(self.seconds) - min(self.seconds)) / m if m > 0 else math.nan


def measure(
    fn: Callable[[], object],
    *,
    repeats: int,
    setup: Callable[[], object] | None = None,
    warmup: int = 0,
) -> Timing:
    """Time ``fn()`` ``repeats`` times; ``setup()`` runs untimed before each repeat (e.g. clear caches).

    A full garbage collection runs before each repeat so one repeat does not pay for the previous one's
    garbage; the collector stays on during timing, as it is in real use.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    seconds = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return Timing(seconds)


def measure_interleaved(fns: Mapping[str, Callable[[], object]], *, repeats: int, warmup: int = 0) -> dict[str, Timing]:
    """Time several functions round-robin (a, b, c, a, b, c, …) rather than one after the other.

    On a shared machine a neighbour's job can start half-way through a run; interleaving spreads that noise
    over every contender instead of charging it to whichever was timed last, so their ratios stay fair.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - t0)
    return {name: Timing(s) for name, s in seconds.items()}


def loop(fn: Callable[[Any], object], items: Sequence[Any]) -> Callable[[], None]:
    """A closure that calls ``fn`` on every item: the unit of work for throughput measurements."""

    def run() -> None:
        for item in items:
            fn(item)

    return run


def star_loop(fn: Callable[..., object], items: Sequence[tuple[Any, ...]]) -> Callable[[], None]:
    """Like :func:`loop`, with each item unpacked into positional arguments."""

    def run() -> None:
        for item in items:
            fn(*item)

    return run


# --- environment header ---------------------------------------------------------------------------------


def torch_threads() -> str:
    """torch's intra-op thread count, without making torch a dependency of the benchmarks."""
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return str(torch.get_num_threads())


def environment() -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "torch_threads": torch_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "executable": sys.executable,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


# --- formatting -----------------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return "-"
    if unit == "rate":
        return f"{value:,.0f} /s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def fmt_target(result: Result) -> str:
    if result.ratio_target is not None:
        return f"≥ {result.ratio_target:.2f}× baseline"
    if result.target is None:
        return "-"
    sign = "≥" if result.unit == "rate" else "<"
    return f"{sign} {fmt_value(result.target, result.unit)}"


def render_markdown(env: dict[str, Any], results: Sequence[Result], *, wall_s: float, argv: Sequence[str]) -> str:
    """The one table ``make bench`` prints, with the machine facts needed to read it."""
    lines = [
        "# gengap benchmarks",
        "",
        f"- Python {env['python']} ({env['implementation']}), {env['platform']}",
        f"- CPU count: {env['cpu_count']} (usable by this process: {env['cpus_usable']}); "
        f"OMP_NUM_THREADS={env['omp_num_threads']}",
        f"- torch threads: {env['torch_threads']}",
        f"- {env['date']}; command: `{' '.join(argv) or 'run.py'}`; total wall time {wall_s:.1f} s",
        f"- Numbers are medians of repeats; {SINGLE_THREAD_NOTE}.",
        "- ratio = how many times faster ours is than the baseline timed in the same run (> 1: ours faster).",
        "",
        "| benchmark | ours | baseline | ratio | target | status | note |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        ratio = r.ratio
        note = r.note if r.error is None else f"{r.error}" + (f"; {r.note}" if r.note else "")
        cells = [
            f"{r.section}: {r.name}" if r.section else r.name,
            fmt_value(r.ours, r.unit),
            fmt_value(r.baseline, r.unit),
            "-" if ratio is None else f"{ratio:.3g}×",
            fmt_target(r),
            r.status,
            note.replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_json(env: dict[str, Any], results: Sequence[Result], *, wall_s: float, argv: Sequence[str]) -> str:
    return json.dumps(
        {
            "environment": env,
            "argv": list(argv),
            "wall_s": wall_s,
            "results": [r.to_dict() for r in results],
        },
        indent=2,
        default=str,
    )
