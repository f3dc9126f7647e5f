"""Expert data for SFT: optimal single-turn answers and sub-optimal multi-turn trajectories.

Rows are chat conversations in the Hugging Face ``messages`` format that TRL's ``SFTTrainer`` reads. Vision
rows put every turn's content in the list-of-parts form (``[{"type": "image"}, {"type": "text", ...}]``) and
carry an ``images`` column of PNG paths relative to the data file, as TRL's vision-language examples do.

Sub-optimal trajectories (the paper's ablation) play wrong attempts through the real verifier, so the
feedback turns in the data are exactly what the model will see during RL.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gengap.core.data import load_dataset
from gengap.core.episode import episode_seed
from gengap.core.io import JsonlAppender, guard_settings, keep_complete_units
from gengap.gp.cards import RANKS
from gengap.gp.game import GeneralPoints, GPEpisode
from gengap.gp.policies import random_formula
from gengap.gp.prompts import format_answer
from gengap.gp.verifier import Outcome, verify

__all__ = ["example", "load_dataset", "write_dataset"]

KINDS = ("optimal", "suboptimal")
SOLUTIONS = ("random", "shortest")
"""How the expert picks among a hand's solutions. ``random`` shows the variety of correct answers;
``shortest`` always gives the same canonical formula for the same numbers, a deterministic target that a
small model memorises several times faster (what the tiny-lm study curve uses)."""


def thought_text(ep: GPEpisode, formula: str) -> str:
    """A short chain of thought: the rule applied to the cards, then the formula."""
    pairs = ", ".join(f"{r}={v}" for r, v in zip(ep.hand.ranks, ep.stated_values, strict=True))
    return f"Under the stated rule the cards are {pairs}. {formula} = {ep.target}."


def _expert_answer(ep: GPEpisode, rng: random.Random, thought: bool, solution: str = "random") -> str:
    formula = ep.solutions[0] if solution == "shortest" else rng.choice(ep.solutions)
    return _format(ep, ep.values, formula, thought_text(ep, formula) if thought else None)


def _format(ep: GPEpisode, numbers: Any, formula: str, thought: str | None = None, cards: Any = None) -> str:
    game = ep.game
    show_cards = game.vision or game.style == "paper"
    return format_answer(
        formula,
        numbers,
        (cards or ep.hand.ranks) if show_cards else None,
        ep.target,
        style=game.style,
        thought=thought,
    )


def _wrong_answer(ep: GPEpisode, rng: random.Random) -> str:
    """A plausible mistake: a misread card (vision), a number that is not in the hand, or a wrong value."""
    kinds = ["value", "numbers"] + (["cards"] if ep.game.vision else [])
    kind = rng.choice(kinds)
    values = list(ep.values)
    if kind == "cards":
        cards = list(ep.hand.ranks)
        i = rng.randrange(len(cards))
        cards[i] = rng.choice([r for r in RANKS if r != cards[i]])
        return _format(ep, values, rng.choice(ep.solutions), cards=cards)
    if kind == "numbers":
        i = rng.randrange(len(values))
        values[i] = rng.choice([v for v in range(1, 14) if v != values[i]])
        return _format(ep, values, random_formula(values, rng))
    for _ in range(20):
        formula = random_formula(values, rng)
        probe = _format(ep, values, formula)
        if verify(probe, ep.values, ep.target).outcome is Outcome.WRONG_VALUE:
            return probe
    return _format(ep, values, "+".join(map(str, values)))


def example(
    game: GeneralPoints, seed: int, kind: str = "optimal", thought: bool = False, solution: str = "random"
) -> GPEpisode:
    """Play one expert episode: ``optimal`` answers right at once; ``suboptimal`` fails 1..budget-1 times first."""
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {KINDS}")
    if solution not in SOLUTIONS:
        raise ValueError(f"unknown solution choice {solution!r}; choose one of {SOLUTIONS}")
    ep = game.episode(seed)
    rng = random.Random(f"expert:{seed}")
    wrong = rng.randint(1, game.verify_iter - 1) if kind == "suboptimal" and game.verify_iter > 1 else 0
    for _ in range(wrong):
        ep.step(_wrong_answer(ep, rng))
    result = ep.step(_expert_answer(ep, rng, thought, solution))
    assert result.terminated, "an expert answer must solve the hand"
    return ep


def _row(ep: GPEpisode, kind: str, image: str | None) -> dict[str, Any]:
    if ep.game.vision:
        messages = []
        for i, m in enumerate(ep.messages):
            parts: list[dict[str, Any]] = [
                {"type": "text", "text": m["content"] if isinstance(m["content"], str) else ep.prompt}
            ]
            if i == 0:
                parts.insert(0, {"type": "image"})
            messages.append({"role": m["role"], "content": parts})
    else:
        messages = [dict(m) for m in ep.messages]
    row: dict[str, Any] = {"messages": messages}
    if image is not None:
        row["images"] = [image]
    row.update(
        kind=kind,
        split=ep.game.split.name,
        seed=ep.seed,
        cards=list(ep.hand.ranks),
        suits=list(ep.hand.suits),
        values=list(ep.values),
        target=ep.target,
        attempts=ep.attempts,
    )
    return row


def write_dataset(
    game: GeneralPoints,
    out: str | Path,
    *,
    n: int,
    seed: int = 0,
    kind: str = "optimal",
    thought: bool = False,
    solution: str = "random",
    progress: bool = True,
) -> Path:
    """Write ``n`` expert conversations to ``out`` (a ``.jsonl`` file); images go to ``<stem>_images/``.

    Resumable exactly: a rerun keeps the run of whole rows ``0, 1, …`` already in the file (a torn last line is
    dropped) and writes the rest, so the file ends as an uninterrupted run writes it. A file already holding
    more than ``n`` rows is refused (see :func:`~gengap.core.io.keep_complete_units`).
    """
    out = Path(out)
    if out.suffix != ".jsonl":
        raise ValueError(f"expert data is written as JSON lines; give a path ending in .jsonl, not {out}")
    guard_settings(
        out.with_name(out.name + ".settings.json"),
        {"game": game.to_dict(), "seed": seed, "kind": kind, "thought": thought, "solution": solution},
        results=out,
        flag="--out",
    )

    def complete(k: int, rows: list[dict[str, Any]], last: bool) -> bool:
        if rows[0].get("seed") != episode_seed(seed, k):
            raise ValueError(f"{out} holds another hand at index {k} (written by another version); use a new --out")
        return len(rows) == 1  # one line is one whole example: a line cut short does not parse

    done = keep_complete_units(out, n, complete, unit="conversations")
    image_dir = out.parent / f"{out.stem}_images"
    with JsonlAppender(out) as sink:
        for k in tqdm(range(done, n), desc=f"{kind} data", unit="ex", disable=not progress, initial=done, total=n):
            ep = example(game, episode_seed(seed, k), kind, thought, solution)
            image = None
            if game.vision:  # the picture first: a row on file always has its picture
                from gengap.gp.render import save_png

                rel = f"{image_dir.name}/{k:07d}.png"
                save_png(ep.image, out.parent / rel)
                image = rel
            sink.write({"index": k, **_row(ep, kind, image)})
    return out
