"""Compare two branches from the same Init and decide a verdict by stated thresholds, never by hand.

The study asks whether RL *generalises* better than SFT or only *moves less*. Each seed of a branch gives a
path of checkpoints: (ID gain, OOD change) from Init, as proportions (0.03 = 3 points). Per seed, OOD change
is fitted as a monotone function of ID gain (isotonic regression by pool-adjacent-violators, in the direction
that fits better) and read at fixed ID-gain levels that every seed of both branches reached.
``D = mean(RL reads) − mean(SFT reads)`` gets a Welch t interval over seeds (seeds are independent runs; the
branches' seeds are not paired). The same machinery serves matched KL: pass KL from
Init as the x value.

Verdicts (spec/study.md), for one (task, OOD split), at the highest level every seed reached:

* ``rl-generalises-better`` — the (1 − α) interval of D lies above 0;
* ``sft-better`` — it lies below 0;
* ``rl-only-moves-less`` — D is equivalent to 0 within ± ``equivalence`` by two one-sided tests (the
  (1 − 2α) interval inside the margin) while RL is ahead at matched compute;
* ``same-frontier`` — equivalent to 0 and RL not ahead at matched compute;
* ``inconclusive`` — none of these; the verdict states the interval's width and about how many seeds per
  branch would settle it at the same spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from gengap.core.stats import t_quantile

VERDICTS = ("rl-generalises-better", "rl-only-moves-less", "same-frontier", "sft-better", "inconclusive")

Path = Sequence[tuple[float, float]]
"""One seed's checkpoints as (x, y): x = ID gain (or KL from Init), y = OOD change, both from Init."""


@dataclass(frozen=True)
class Thresholds:
    """What the verdicts are decided by; stated in the report next to every verdict."""

    equivalence: float = 0.03
    """The margin of 'no difference': ± 3 points of OOD success."""
    alpha: float = 0.05
    """Two-sided level of the difference test; the equivalence test uses the (1 − 2α) interval."""
    levels: tuple[float, ...] = (0.03, 0.05, 0.10)
    """ID-gain levels (or KL levels) at which the branches are compared."""
    max_seeds: int = 1000
    """Cap on the 'seeds needed' estimate of an inconclusive verdict."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha}")
        if self.equivalence <= 0:
            raise ValueError(f"the equivalence margin must be positive, got {self.equivalence}")
        if not self.levels:
            raise ValueError("give at least one comparison level")


def isotonic(path: Path) -> list[tuple[float, float]]:
    """The monotone least-squares fit of y on x, as (x, fitted y) sorted by x.

    Monotone, so that the noise of single checkpoints does not make a path cross a level twice; the direction
    is the data's (the better fitting of non-decreasing and non-increasing), since SFT's OOD change typically
    falls as its ID gain rises and RL's may rise.
    """
    up = _pav(path)
    down = [(x, -y) for x, y in _pav([(x, -y) for x, y in path])]
    return up if _sse(path, up) <= _sse(path, down) else down


def _sse(path: Path, fit: list[tuple[float, float]]) -> float:
    at = dict(fit)
    return sum((y - at[float(x)]) ** 2 for x, y in path)


def _pav(path: Path) -> list[tuple[float, float]]:
    """The non-decreasing least-squares fit (pool adjacent violators); points at the same x are pooled."""
    if not path:
        raise ValueError("a path needs at least one checkpoint")
    by_x: dict[float, list[float]] = {}
    for x, y in path:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"checkpoint values must be finite, got ({x}, {y})")
        by_x.setdefault(float(x), []).append(float(y))
    blocks: list[list[float]] = []  # [sum of y, weight, first x index, last x index]
    xs = sorted(by_x)
    for i, x in enumerate(xs):
        ys = by_x[x]
        blocks.append([sum(ys), float(len(ys)), i, i])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w, _, last = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w
            blocks[-1][3] = last
    fitted: list[tuple[float, float]] = []
    for s, w, first, last in blocks:
        fitted.extend((xs[i], s / w) for i in range(int(first), int(last) + 1))
    return fitted


def read_at(path: Path, level: float) -> float | None:
    """The isotonic fit of ``path`` read at x = ``level`` (linear between checkpoints); ``None`` beyond its reach."""
    fit = isotonic(path)
    if not fit[0][0] <= level <= fit[-1][0]:
        return None
    for (x0, y0), (x1, y1) in pairwise(fit):
        if x0 <= level <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (level - x0) / (x1 - x0)
    return fit[-1][1]  # a single checkpoint exactly at the level


@dataclass(frozen=True)
class Difference:
    """D = mean(RL) − mean(SFT) at one level, with its Welch t intervals over seeds."""

    level: float
    d: float
    se: float
    df: float
    ci: tuple[float, float]
    """The (1 − α) two-sided interval: the difference test."""
    ci_equivalence: tuple[float, float]
    """The (1 − 2α) interval: two one-sided tests of equivalence."""
    n_rl: int
    n_sft: int


def welch(rl: Sequence[float], sft: Sequence[float], level: float, alpha: float) -> Difference:
    """The difference of two independent means with Welch's t intervals (each side needs two or more seeds)."""
    if len(rl) < 2 or len(sft) < 2:
        raise ValueError(f"an interval over seeds needs at least 2 seeds per branch, got {len(rl)} and {len(sft)}")
    d = statistics.fmean(rl) - statistics.fmean(sft)
    va, vb = statistics.variance(rl) / len(rl), statistics.variance(sft) / len(sft)
    se = math.sqrt(va + vb)
    if se == 0:
        df = float(len(rl) + len(sft) - 2)
    else:
        df = (va + vb) ** 2 / (va * va / (len(rl) - 1) + vb * vb / (len(sft) - 1))
    t1, t2 = t_quantile(1 - alpha / 2, df), t_quantile(1 - alpha, df)
    return Difference(level, d, se, df, (d - t1 * se, d + t1 * se), (d - t2 * se, d + t2 * se), len(rl), len(sft))


@dataclass(frozen=True)
class Verdict:
    """One verdict with the numbers that decided it, ready for the report."""

    verdict: str
    reason: str
    difference: Difference | None
    differences: list[Difference] = field(default_factory=list)
    """D at every level that all seeds reached (the verdict uses the highest)."""
    seeds_needed: int | None = None
    """For ``inconclusive``: about how many seeds per branch would settle it at the same spread."""


def _seeds_needed(diff: Difference, th: Thresholds) -> int | None:
    """Seeds per branch at which the interval would exclude 0 or fit in the margin, at the same spread."""
    half = (diff.ci[1] - diff.ci[0]) / 2
    target = max(abs(diff.d), th.equivalence - abs(diff.d))
    if half <= 0 or target <= 0:
        return None
    n = max(diff.n_rl, diff.n_sft)
    return min(th.max_seeds, max(n + 1, math.ceil(n * (half / target) ** 2)))


def decide(
    rl_paths: Sequence[Path],
    sft_paths: Sequence[Path],
    *,
    rl_ahead_at_matched_compute: bool,
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    """The verdict for one (task, OOD split) from each branch's per-seed paths (x: ID gain or KL, y: OOD change).

    ``rl_ahead_at_matched_compute``: RL's OOD change exceeds SFT's at the largest FLOPs mark both reached
    (decided by the caller from the matched-compute comparison, with its own interval).
    """
    th = thresholds
    diffs: list[Difference] = []
    for level in sorted(th.levels):
        rl = [read_at(p, level) for p in rl_paths]
        sft = [read_at(p, level) for p in sft_paths]
        if any(v is None for v in rl) or any(v is None for v in sft):
            continue  # not every seed of both branches reached this level
        diffs.append(welch(rl, sft, level, th.alpha))  # type: ignore[arg-type]
    if not diffs:
        levels = ", ".join(f"{lvl:+.0%}" for lvl in th.levels)
        return Verdict(
            "inconclusive",
            f"no comparison level ({levels}) was reached by every seed of both branches; train longer",
            None,
        )
    diff = diffs[-1]
    lo, hi = diff.ci
    elo, ehi = diff.ci_equivalence
    where = f"at {diff.level:+.0%}: D = {diff.d:+.1%} [{lo:+.1%}, {hi:+.1%}]"
    if lo > 0:
        return Verdict("rl-generalises-better", f"{where} lies above 0", diff, diffs)
    if hi < 0:
        return Verdict("sft-better", f"{where} lies below 0", diff, diffs)
    if -th.equivalence < elo and ehi < th.equivalence:
        equivalent = f"{where}; its {1 - 2 * th.alpha:.0%} interval lies within ±{th.equivalence:.0%}"
        if rl_ahead_at_matched_compute:
            return Verdict("rl-only-moves-less", f"{equivalent}, while RL is ahead at matched compute", diff, diffs)
        return Verdict("same-frontier", f"{equivalent}, and RL is not ahead at matched compute", diff, diffs)
    needed = _seeds_needed(diff, th)
    return Verdict(
        "inconclusive",
        f"{where}: the interval ({hi - lo:.1%} wide) neither excludes 0 nor fits within ±{th.equivalence:.0%}; "
        f"about {needed} seeds per branch would settle it at this spread",
        diff,
        diffs,
        needed,
    )
