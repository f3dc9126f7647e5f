"""Resumable evaluation: play tagged episodes with a policy and append one JSON line per finished episode.

Rerunning with the same output file skips episodes already written, so an interrupted evaluation of a
large model loses at most the batch in flight.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gengap.core.episode import Episode, Policy, play
from gengap.core.io import JsonlAppender, read_jsonl

Tag = dict[str, Any]


def _key(tag: Tag, fields: Sequence[str]) -> str:
    return json.dumps([tag.get(f) for f in fields])


def run_episodes(
    policy: Policy,
    jobs: Sequence[tuple[Tag, Episode]],
    path: str | Path,
    *,
    key_fields: Sequence[str] = ("policy", "split", "index"),
    batch_size: int = 64,
    desc: str = "episodes",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Play every job not yet in ``path``; return all rows (old and new) in job order."""
    done = {_key(row, key_fields): row for row in read_jsonl(path)}
    todo = [(tag, ep) for tag, ep in jobs if _key(tag, key_fields) not in done]
    tags = {id(ep): tag for tag, ep in todo}
    with (
        JsonlAppender(path) as out,
        tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc, unit="ep", disable=not progress) as bar,
    ):

        def on_done(ep: Episode) -> None:
            row = {**tags[id(ep)], **ep.record()}
            out.write(row)
            done[_key(row, key_fields)] = row
            bar.update()

        play(policy, (ep for _, ep in todo), batch_size=batch_size, on_done=on_done)
    return [done[_key(tag, key_fields)] for tag, _ in jobs]
