"""One evaluator for every game: play the fixed episodes of each split with each policy, resumably, and report.

The game supplies everything game-specific (its episodes per (split, seed), how many the paper plays, its
metrics and table columns); this module only plays, stores and tabulates. Written under the output folder:

* ``episodes.jsonl`` — one line per finished episode with the whole conversation (appended as episodes end,
  so an interrupted run keeps its work and a rerun resumes it);
* ``summary.json`` — settings, decoding, and per (policy, split) the game's metrics with their intervals;
* ``summary.md`` / ``summary.csv`` — the same as a table;
* ``settings.json`` — what the episodes were made with: a rerun with other settings is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gengap.core.config import save_config
from gengap.core.episode import Episode, Policy, play
from gengap.core.io import JsonlAppender, atomic_write_json, guard_settings, read_jsonl
from gengap.core.report import write_tables

KEY_FIELDS = ("policy", "policy_id", "split", "index")


def describe(policy: Any) -> Any:
    """What identifies a policy's answers: a model's checkpoint and sampling, or a scripted policy's name."""
    if hasattr(policy, "describe"):
        return policy.describe()
    return getattr(policy, "__qualname__", type(policy).__name__)


def play_episodes(policy: Policy, episodes: Sequence[Episode], batch_size: int = 64) -> list[dict[str, Any]]:
    """Play ``episodes`` in memory and return their records in order (for evaluation during training)."""
    play(policy, episodes, batch_size=batch_size)
    return [ep.record() for ep in episodes]


def _key(row: dict[str, Any]) -> str:
    return json.dumps([row.get(f) for f in KEY_FIELDS])


def run_episodes(
    policy: Policy,
    jobs: Sequence[tuple[dict[str, Any], Episode]],
    path: str | Path,
    *,
    batch_size: int = 64,
    desc: str = "episodes",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Play every tagged episode not yet in ``path`` (one JSON line each); return all rows in job order.

    Episodes finish out of order (a batch plays several at once), but their rows are appended in job order: a
    finished episode waits until those before it are written. So the file is always a prefix of what an
    uninterrupted run writes, and a rerun after a crash, which plays the jobs missing from it, ends with exactly
    that file. Rows are returned as read back from JSON, whether played now or earlier, so the summaries of a
    resumed run equal those of an uninterrupted one.
    """
    done = {_key(row): row for row in read_jsonl(path)}
    todo = [(tag, ep) for tag, ep in jobs if _key(tag) not in done]
    place = {id(ep): j for j, (_, ep) in enumerate(todo)}
    waiting: dict[int, dict[str, Any]] = {}
    written = 0
    with (
        JsonlAppender(path) as out,
        tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc, unit="ep", disable=not progress) as bar,
    ):

        def on_done(ep: Episode) -> None:
            nonlocal written
            j = place[id(ep)]
            row = {**ep.record(), **todo[j][0]}  # the tag names the split as the user did (e.g. a .json file)
            waiting[j] = json.loads(json.dumps(row, ensure_ascii=False))
            while written in waiting:
                row = waiting.pop(written)
                out.write(row)
                done[_key(row)] = row
                written += 1
            bar.update()

        play(policy, (ep for _, ep in todo), batch_size=batch_size, on_done=on_done)
    assert not waiting, "every episode played was written"
    return [done[_key(tag)] for tag, _ in jobs]


def _beyond(path: Path, policies: Sequence[str], counts: dict[str, int]) -> int:
    """How many rows of these policies and splits ``path`` holds past the ``counts`` asked for (an earlier, larger
    ``--n``): they stay on file, but the summary covers the first ``counts`` episodes of each split only."""
    return sum(
        1
        for row in read_jsonl(path)
        if row.get("policy") in policies
        and row.get("split") in counts
        and isinstance(row.get("index"), int)
        and row["index"] >= counts[row["split"]]
    )


def evaluate(
    policies: dict[str, Policy],
    game: Any,
    splits: Sequence[str] | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    out: str | Path,
    batch_size: int = 64,
    progress: bool = True,
    decoding: dict[str, Any] | None = None,
    on_split: Callable[[dict[str, Any]], None] | None = None,
    config: Any = None,
) -> list[dict[str, Any]]:
    """Play each split's fixed episodes with each policy; return one summary row per (policy, split).

    ``splits``: default the game's evaluation splits. ``n``: episodes per split, default the paper's count for
    that split (the game says). ``decoding``: how model policies decode, stated in ``summary.json``. ``config``:
    the run's config, written as ``config.yaml`` once the folder has accepted the settings (so a rerun with
    ``--config`` resumes it).
    """
    out = Path(out)
    splits = list(dict.fromkeys(splits or game.eval_splits()))
    games = {name: game.with_split(name) for name in splits}  # fail early on a bad split name
    counts = {name: n if n is not None else g.eval_episodes() for name, g in games.items()}
    for name, count in counts.items():
        if count < 1:
            raise ValueError(f"the number of episodes must be at least 1, got {count} for split {name!r}")
    settings = {k: v for k, v in game.to_dict().items() if k != "split"}
    guard_settings(
        out / "settings.json",
        {"game": game.name, "settings": settings, "seed": seed},
        results=out / "episodes.jsonl",
        flag="--out",
    )
    beyond = _beyond(out / "episodes.jsonl", list(policies), counts)
    if beyond:  # a smaller --n than an earlier run's: accepted, and said
        print(
            f"{out / 'episodes.jsonl'} holds {beyond} episode(s) beyond --n; they stay on file, and the summary "
            f"covers the first {', '.join(f'{c} of {name}' for name, c in counts.items())}"
        )
    if config is not None:
        save_config(config, out)
    summaries: list[dict[str, Any]] = []
    for policy_name, policy in policies.items():
        # A policy's identity (a checkpoint's step and compute, its sampling) is part of each row's key, so a
        # checkpoint trained further at the same path is evaluated afresh rather than read from old rows.
        policy_id = json.dumps(describe(policy), sort_keys=True, default=str)
        jobs = [
            ({"policy": policy_name, "policy_id": policy_id, "split": name, "index": k}, ep)
            for name, g in games.items()
            for k, ep in enumerate(g.episodes(seed, counts[name]))
        ]
        rows = run_episodes(
            policy, jobs, out / "episodes.jsonl", batch_size=batch_size, desc=policy_name, progress=progress
        )
        for name in splits:
            summary = {"policy": policy_name, "split": name, **game.summarise(r for r in rows if r["split"] == name)}
            summaries.append(summary)
            if on_split is not None:
                on_split(summary)
    report = {
        "game": game.name,
        "settings": {**settings, "seed": seed, "splits": splits, "episodes": counts, "policies": list(policies)},
        "decoding": decoding or {},
        "results": summaries,
    }
    atomic_write_json(out / "summary.json", report)
    write_tables(table(game, summaries), out / "summary", title=f"{game.title or game.name} evaluation")
    return summaries


def table(game: Any, summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (policy, split): the game's own columns after the policy and split names."""
    return [{"policy": s["policy"], "split": s["split"], **game.table_row(s)} for s in summaries]
