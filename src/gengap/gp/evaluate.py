"""Evaluate a policy on GeneralPoints splits: the same episodes for every checkpoint, resumable, with reports.

Writes ``episodes.jsonl`` (one line per episode with the whole conversation), ``summary.json`` and the
per-split table as ``summary.md`` / ``summary.csv`` under the output folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gengap.core.episode import episode_seed
from gengap.core.evaluate import run_episodes
from gengap.core.io import atomic_write_json, guard_settings
from gengap.core.report import write_tables
from gengap.gp.game import GeneralPoints, GPEpisode
from gengap.gp.metrics import pct, summarise
from gengap.gp.splits import get_split

PAPER_EPISODES = 234
"""Episodes per split in the paper's evaluation."""


def evaluate(
    policies: dict[str, Callable[[Sequence[GPEpisode]], Sequence[str]]],
    game: GeneralPoints,
    splits: Sequence[str],
    *,
    n: int = PAPER_EPISODES,
    seed: int = 0,
    out: str | Path,
    batch_size: int = 64,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Play ``n`` episodes of each split with each policy; return one summary row per (policy, split)."""
    out = Path(out)
    splits = list(dict.fromkeys(splits))
    games = {name: replace(game, split=get_split(name)) for name in splits}  # fail early on a bad split name
    guard_settings(out / "settings.json", {"game": game.to_dict(), "seed": seed})
    summaries: list[dict[str, Any]] = []
    for policy_name, policy in policies.items():
        # A policy's identity (a checkpoint's step and compute, its sampling) is part of each row's key, so a
        # checkpoint trained further at the same path is evaluated afresh rather than read from old rows.
        policy_id = json.dumps(describe(policy), sort_keys=True)
        jobs = [
            (
                {"policy": policy_name, "policy_id": policy_id, "split": name, "index": k},
                g.episode(episode_seed(seed, k)),
            )
            for name, g in games.items()
            for k in range(n)
        ]
        rows = run_episodes(
            policy,
            jobs,
            out / "episodes.jsonl",
            key_fields=("policy", "policy_id", "split", "index"),
            batch_size=batch_size,
            desc=policy_name,
            progress=progress,
        )
        for name in splits:
            summary = summarise(r for r in rows if r["split"] == name)
            summaries.append({"policy": policy_name, "split": name, **summary})
    settings = {**game.to_dict(), "seed": seed, "n": n, "splits": list(splits), "policies": list(policies)}
    atomic_write_json(out / "summary.json", {"settings": settings, "results": summaries})
    write_tables([table_row(s) for s in summaries], out / "summary", title="GeneralPoints evaluation")
    return summaries


def describe(policy: Any) -> Any:
    """What identifies a policy's answers: a model's checkpoint and sampling, or a scripted policy's name."""
    if hasattr(policy, "describe"):
        return policy.describe()
    return getattr(policy, "__qualname__", type(policy).__name__)


def table_row(s: dict[str, Any]) -> dict[str, Any]:
    """The human-readable columns of one summary (percentages with standard errors)."""
    return {
        "policy": s["policy"],
        "split": s["split"],
        "episodes": s["episodes"],
        "success %": pct(s["success"]),
        "1st-try success %": pct(s["first_attempt_success"]),
        "rule acc %": pct(s["rule_accuracy"]),
        "train-rule %": pct(s["train_rule_rate"]),
        "recognition %": pct(s["recognition"]),
        "valid format %": pct(s["format_validity"]),
        "attempts": f"{s['mean_attempts']:.2f}",
    }
