"""Route records and expert SFT data for V-IRL, written as JSON lines (resumable, as for GeneralPoints).

* ``routes``: one route per line — id, start, destination, the numbered instruction, the turns with their
  landmarks, and the rail with the expert action at every point (both action spaces).
* ``optimal``: one conversation per rail point — the point's prompt and the expert's answer.
* ``suboptimal``: as ``optimal``, but at some points the expert first errs (a wrong action, or a wrong claim
  about the intersection), is scored by the real verifier and gets its feedback, then answers right: the
  feedback turns are exactly what RL will show.

Vision rows carry the 2×2 street views as PNG files beside the data file (``<stem>_images/``), referenced
from an ``images`` column, and put the image part in the first user turn, as TRL's VLM examples do.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gengap.core.episode import episode_seed
from gengap.core.io import JsonlAppender, guard_settings, read_jsonl
from gengap.virl.game import VIRL, VIRLEpisode
from gengap.virl.prompts import format_answer

KINDS = ("routes", "optimal", "suboptimal")
SUBOPTIMAL_SHARE = 0.3
"""Share of rail points at which the sub-optimal expert errs once before answering right."""


def _wrong_answer(ep: VIRLEpisode, rng: random.Random) -> str:
    """A plausible mistake at the current point: another listed action, or a wrong intersection claim."""
    p = ep.point
    expert = ep.expert_action
    if rng.random() < 0.3:
        obs = "You see no named places." if p.intersection else "You observe an intersection."
        if ep.game.style == "compact":
            obs = "nothing" if p.intersection else "intersection"
        action = expert
    else:
        obs = ep.observation()
        action = rng.choice([a for a in ep.allowed if a != expert])
    sentence = ep.route.instruction[p.instruction - 1]
    return format_answer(obs, p.instruction, sentence, action, style=ep.game.style)


def _messages(ep: VIRLEpisode, turn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not ep.game.vision:
        return [dict(m) for m in turn]
    out = []
    for i, m in enumerate(turn):
        text = (
            m["content"]
            if isinstance(m["content"], str)
            else next(part["text"] for part in m["content"] if part.get("type") == "text")
        )
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if i == 0:
            parts.insert(0, {"type": "image"})
        out.append({"role": m["role"], "content": parts})
    return out


def expert_rows(game: VIRL, seed: int, kind: str, image_dir: Path | None, index: int) -> list[dict[str, Any]]:
    """Walk the route of ``seed`` as the expert; one row per rail point."""
    if kind not in ("optimal", "suboptimal"):
        raise ValueError(f"unknown data kind {kind!r}; choose one of {KINDS}")
    ep = game.episode(seed)
    rng = random.Random(f"virl-expert:{seed}")
    rows = []
    while not ep.done:
        at = ep.index
        image = None
        if game.vision and image_dir is not None:
            from gengap.virl.render import save_png

            image = f"{image_dir.name}/{index:07d}-{at:03d}.png"
            save_png(ep.images()[0], image_dir.parent / image)
        if kind == "suboptimal" and game.verify_iter > 1 and rng.random() < SUBOPTIMAL_SHARE:
            ep.step(_wrong_answer(ep, rng))
        expert = ep.expert_action
        turn = ep.messages
        result = ep.step(ep.expert_answer())
        assert result.outcome == "correct", "the expert answer must be correct"
        row: dict[str, Any] = {"messages": _messages(ep, turn)}
        if image is not None:
            row["images"] = [image]
        row.update(
            kind=kind,
            split=game.split.name,
            world=ep.route.world,
            route_id=ep.route.id,
            seed=seed,
            point=at,
            expert_action=expert,
        )
        rows.append(row)
    return rows


def write_dataset(
    game: VIRL,
    out: str | Path,
    *,
    n: int,
    seed: int = 0,
    kind: str = "routes",
    progress: bool = True,
) -> Path:
    """Write ``n`` routes (``kind="routes"``) or the expert conversations of ``n`` routes to ``out``.

    Resumable: routes already in the file (by index) are kept and not regenerated.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {KINDS}")
    out = Path(out)
    if out.suffix != ".jsonl":
        raise ValueError(f"V-IRL data is written as JSON lines; give a path ending in .jsonl, not {out}")
    guard_settings(out.with_name(out.name + ".settings.json"), {"game": game.to_dict(), "seed": seed, "kind": kind})
    have = {row.get("index") for row in read_jsonl(out)}
    image_dir = out.parent / f"{out.stem}_images"
    with JsonlAppender(out) as sink:
        for k in tqdm(range(n), desc=f"V-IRL {kind}", unit="route", disable=not progress):
            if k in have:
                continue
            s = episode_seed(seed, k)
            if kind == "routes":
                route = game.route(s)
                sink.write({"index": k, "seed": s, "split": game.split.name, **route.to_dict(game.split.actions)})
            else:
                sink.write_all({"index": k, **row} for row in expert_rows(game, s, kind, image_dir, k))
    return out
