"""``gengap eval``: which game, which splits, which models or scripted policies, how they decode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gengap.core.config import GameArgs, SamplingArgs, arg


@dataclass
class EvalConfig(SamplingArgs, GameArgs):
    """Every setting of ``gengap eval``."""

    model: list[str] = arg(
        factory=lambda: ["oracle"],
        help="what answers: checkpoint folders, built-in models (tiny-lm), Hub ids or the game's scripted policies "
        "(oracle, rule-blind, ...); several: --model a b or a,b",
    )
    splits: list[str] | None = arg(None, "splits to play, e.g. id,ood-rule (default: the game's ID and OOD splits)")
    n: int | None = arg(None, "episodes per split (default: the paper's: GP 234, V-IRL 48 and 18 for visual OOD)")
    seed: int = arg(0, "seed of the evaluation episodes: the same seed plays the same episodes")
    batch_size: int = arg(64, "episodes answered at once", resumable=True)
    out: str = arg("runs/eval", "output folder; rerun the same command to resume", resumable=True)
    quiet: bool = arg(False, "no progress bar", resumable=True)

    def __post_init__(self) -> None:
        self.model = _items(self.model)
        self.splits = _items(self.splits) if self.splits else None
        if not self.model:
            raise ValueError("--model needs at least one model or scripted policy")
        if self.n is not None and self.n < 1:
            raise ValueError(f"--n must be at least 1, got {self.n}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")


def _items(values: Any) -> list[str]:
    """``["a,b", "c"]`` or ``"a,b"`` → ``["a", "b", "c"]``: both the Hugging Face and the comma style."""
    if isinstance(values, str):
        values = [values]
    return [v.strip() for value in values for v in str(value).split(",") if v.strip()]
