"""Proportions with standard errors: at 234 episodes a 3-point gain is only ~1.5 standard errors."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Proportion:
    hits: int
    n: int

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n else float("nan")

    @property
    def se(self) -> float:
        """The binomial standard error sqrt(p(1-p)/N)."""
        if not self.n:
            return float("nan")
        p = self.rate
        return math.sqrt(p * (1 - p) / self.n)

    def to_dict(self) -> dict[str, float | int]:
        return {"rate": self.rate, "se": self.se, "hits": self.hits, "n": self.n}

    def __str__(self) -> str:
        if not self.n:
            return "n/a"
        return f"{100 * self.rate:.1f} ± {100 * self.se:.1f}"


def proportion(flags: list[bool | None]) -> Proportion:
    """The share of ``True`` among the non-``None`` flags (``None``: the measurement does not apply)."""
    known = [f for f in flags if f is not None]
    return Proportion(sum(bool(f) for f in known), len(known))
