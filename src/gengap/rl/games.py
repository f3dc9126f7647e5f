"""The game an RL run plays, named the same way by every algorithm's config."""

from __future__ import annotations

from typing import Any

ENVS = ("gp", "virl")


def make_game(
    env: str, *, split: str, style: str, verify_iter: int, world: str = "helsinki", vision: bool = False
) -> Any:
    """GeneralPoints (``gp``) or V-IRL (``virl``) settings; both give episodes of the same contract."""
    if env == "gp":
        from gengap.gp.game import GeneralPoints

        return GeneralPoints(split=split, vision=vision, style=style, verify_iter=verify_iter)
    if env == "virl":
        from gengap.virl.game import VIRL

        return VIRL(world=world, split=split, vision=vision, style=style, verify_iter=verify_iter)
    raise ValueError(f"env must be one of {ENVS}, got {env!r}")
