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

import json
import random
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gengap.core.io import JsonlAppender, guard_settings, keep_complete_units
from gengap.virl.game import VIRL, VIRLEpisode
from gengap.virl.policies import wrong_answer
from gengap.virl.routes import Route

KINDS = VIRL.DATA_KINDS
SUBOPTIMAL_SHARE = 0.3
"""Share of rail points at which the sub-optimal expert errs once before answering right."""


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


def expert_rows(
    game: VIRL, seed: int, kind: str, image_dir: Path | None, index: int, route: Route | None = None
) -> list[dict[str, Any]]:
    """Walk the route of ``seed`` (or ``route``, the one ``seed`` replays) as the expert; one row per rail point."""
    if kind not in ("optimal", "suboptimal"):
        raise ValueError(f"unknown data kind {kind!r}; choose one of {KINDS}")
    ep = game.episode(seed) if route is None else VIRLEpisode(game, route, seed, game.verify_iter)
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
            ep.step(wrong_answer(ep, rng))
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

    The routes are those of :meth:`VIRL.route_set`: ``n`` distinct routes (on a reference folder, its records in
    order); every row keeps ``index`` (the route's place in the set) and ``seed`` (``game.episode(seed)`` replays
    it). The whole set is drawn before anything is written, so a district too small for ``n`` fails at once.

    Resumable exactly: the set is drawn again (it is deterministic) and the file is cut back to its run of whole
    routes ``0, 1, …`` (see :func:`~gengap.core.io.keep_complete_units`): a route's conversations count as whole
    when they walk every point of its rail, and the last route on file, which a crash may have cut short, only
    when its rows are exactly those the expert writes for it. Its rows are written again otherwise, so the file
    ends as an uninterrupted run writes it. A file already holding more than ``n`` routes is refused.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {KINDS}")
    out = Path(out)
    if out.suffix != ".jsonl":
        raise ValueError(f"V-IRL data is written as JSON lines; give a path ending in .jsonl, not {out}")
    guard_settings(
        out.with_name(out.name + ".settings.json"),
        {"game": game.to_dict(), "seed": seed, "kind": kind},
        results=out,
        flag="--out",
    )
    plan = game.route_set(seed, n)

    def complete(k: int, rows: list[dict[str, Any]], last: bool) -> bool:
        s, route = plan[k]
        written = {row.get("id", row.get("route_id")) for row in rows}
        if written != {route.id}:
            raise ValueError(
                f"{out} holds route {sorted(map(str, written))[0]} at index {k} where this version draws {route.id} "
                "(it was written by another version); write to a new file"
            )
        if kind == "routes":
            return len(rows) == 1
        if not last:
            return [row.get("point") for row in rows] == list(range(len(route.rail)))
        pictures = [out.parent / image for row in rows for image in row.get("images", [])]
        if not all(p.is_file() for p in pictures):
            return False
        expected = json.loads(json.dumps([{"index": k, **row} for row in expert_rows(game, s, kind, None, k, route)]))
        return [{key: v for key, v in row.items() if key != "images"} for row in rows] == expected

    done = keep_complete_units(out, n, complete, unit="routes")
    image_dir = out.parent / f"{out.stem}_images"
    with JsonlAppender(out) as sink:
        bar = tqdm(plan[done:], desc=f"V-IRL {kind}", unit="route", disable=not progress, initial=done, total=n)
        for k, (s, route) in enumerate(bar, start=done):
            if kind == "routes":
                sink.write({"index": k, "seed": s, "split": game.split.name, **route.to_dict(game.split.actions)})
            else:  # a route's conversations in one write, after its pictures: a crash rarely cuts them short
                sink.write_all([{"index": k, **row} for row in expert_rows(game, s, kind, image_dir, k, route)])
    return out
