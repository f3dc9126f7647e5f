"""Numbers with their uncertainty: Wilson intervals for proportions, a seeded bootstrap for pooled rates.

A Wald interval (p ± 1.96·sqrt(p(1−p)/N)) says ±0 at 0/1000 and spills below 0 near the floor, where tiny
models live; the Wilson score interval does neither. Rates pooled over episodes of unequal length (V-IRL's
per-step accuracy: every answer of every route) are not binomial across routes, so their interval comes
from resampling whole episodes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
"""The two-sided 95 % normal quantile."""


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``hits`` successes in ``n`` trials (``(nan, nan)`` when ``n`` is 0)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n hits the bound is exactly 0 or 1; floating point would land a hair inside.
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == n else min(1.0, centre + half)
    return (low, high)


@dataclass(frozen=True, slots=True)
class Proportion:
    """``hits`` out of ``n``, with the binomial standard error and the Wilson 95 % interval."""

    hits: int
    n: int

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else float("nan")

    @property
    def se(self) -> float:
        """The binomial standard error sqrt(p(1-p)/N) (reported beside the interval, never instead of it)."""
        if not self.n:
            return float("nan")
        p = self.rate
        return math.sqrt(p * (1 - p) / self.n)

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.n)

    def to_dict(self) -> dict[str, float | int]:
        low, high = self.interval
        return {"rate": self.rate, "se": self.se, "low": low, "high": high, "hits": self.hits, "n": self.n}

    def __str__(self) -> str:
        return pct({"rate": self.rate, "low": self.interval[0], "high": self.interval[1], "n": self.n})


def proportion(flags: Sequence[bool | None]) -> Proportion:
    """The share of ``True`` among the non-``None`` flags (``None``: the measurement does not apply)."""
    known = [f for f in flags if f is not None]
    return Proportion(sum(bool(f) for f in known), len(known))


def pooled_rate(
    hits: Sequence[int], totals: Sequence[int], *, resamples: int = 2000, seed: int = 0
) -> dict[str, float | int]:
    """``sum(hits) / sum(totals)`` over episodes, with a 95 % percentile bootstrap interval over episodes.

    Each resample draws as many episodes as there are, with replacement, and pools their hits and totals, so an
    episode's answers stay together (they are not independent trials). Seeded: the same data give the same
    interval. Episodes with ``totals == 0`` are kept (they weigh nothing in the pool). When every answer is right
    (or every one wrong) the bootstrap has no spread; the interval is then Wilson's over the episodes.
    """
    if len(hits) != len(totals):
        raise ValueError("hits and totals must have one entry per episode")
    n_answers = sum(totals)
    if not hits or n_answers == 0:
        nan = float("nan")
        return {"rate": nan, "low": nan, "high": nan, "hits": sum(hits), "n": n_answers, "episodes": len(hits)}
    rate = sum(hits) / n_answers
    k = len(hits)
    if sum(hits) in (0, n_answers):
        # Every resample agrees, so the bootstrap would say ±0. Bound it as if each episode were one trial, the
        # cautious end of the clustered sample's effective size.
        low, high = wilson(0 if rate == 0 else k, k)
        return {"rate": rate, "low": low, "high": high, "hits": sum(hits), "n": n_answers, "episodes": k}
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        picks = [rng.randrange(k) for _ in range(k)]
        total = sum(totals[i] for i in picks)
        draws.append(sum(hits[i] for i in picks) / total if total else rate)
    draws.sort()
    low = draws[int(0.025 * (resamples - 1))]
    high = draws[math.ceil(0.975 * (resamples - 1))]
    return {"rate": rate, "low": low, "high": high, "hits": sum(hits), "n": n_answers, "episodes": k}


def pct(cell: dict[str, float | int]) -> str:
    """``12.3 [9.1, 16.0]`` (percent, 95 % interval) for a rate dict, ``–`` where the measurement does not apply."""
    if not cell.get("n"):
        return "–"
    low, high = cell.get("low"), cell.get("high")
    if low is None or high is None or math.isnan(float(low)):
        return f"{100 * float(cell['rate']):.1f}"
    return f"{100 * float(cell['rate']):.1f} [{100 * float(low):.1f}, {100 * float(high):.1f}]"


# --- Student's t, for intervals over a few seeds ----------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz, 200 terms at most)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 201):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` (possibly fractional, as Welch's) degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on :func:`t_cdf`; exact to ~1e-10, no scipy needed)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0
