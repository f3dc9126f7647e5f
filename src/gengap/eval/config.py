"""``gengap eval``: which game, which splits, which models or scripted policies, how they decode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gengap.core.config import GameArgs, SamplingArgs, arg, check_bounds


@dataclass
class EvalConfig(SamplingArgs, GameArgs):
    """Every setting of ``gengap eval``."""

    model: list[str] = arg(
        factory=lambda: ["oracle"],
        help="what answers: checkpoint folders, built-in models (tiny-lm), Hub ids or the game's scripted policies "
        "(oracle, rule-blind, ...); several: --model a b or a,b",
    )
    splits: list[str] | None = arg(None, "splits to play, e.g. id,ood-rule (default: the game's ID and OOD splits)")
    n: int | None = arg(
        None,
        "episodes per split, at most 100000: they are dealt up front (default: the paper's: GP 234, V-IRL 48 and "
        "18 for visual OOD); a rerun with a smaller --n keeps the extra episodes on file and summarises the "
        "first n (and says so)",
        bounds="[1, 100000]",
    )
    seed: int = arg(0, "seed of the evaluation episodes: the same seed plays the same episodes")
    batch_size: int = arg(64, "episodes answered at once", resumable=True, bounds="[1, inf)")
    out: str = arg("runs/eval", "output folder; rerun the same command to resume", resumable=True, output="folder")
    quiet: bool = arg(False, "no progress bar", resumable=True)

    def __post_init__(self) -> None:
        check_bounds(self)
        self.model = _items(self.model)
        self.splits = _items(self.splits) if self.splits else None
        if not self.model:
            raise ValueError("--model needs at least one model or scripted policy")


def _items(values: Any) -> list[str]:
    """``["a,b", "c"]`` or ``"a,b"`` → ``["a", "b", "c"]``: both the Hugging Face and the comma style."""
    if isinstance(values, str):
        values = [values]
    return [v.strip() for value in values for v in str(value).split(",") if v.strip()]
