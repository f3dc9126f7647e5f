"""Play GeneralPoints in the terminal against the same verifier and feedback a model gets."""

from __future__ import annotations

import sys
from typing import TextIO

from gengap.gp.game import GeneralPoints
from gengap.gp.prompts import format_answer


def _as_answer(line: str, game: GeneralPoints, ranks: tuple[str, ...], target: int) -> str:
    """A bare formula typed by a person becomes a full answer; JSON or ``key: value`` text is kept as typed."""
    text = line.strip()
    if "{" in text or ":" in text:
        return text
    return format_answer(text, [], None if game.vision else ranks, target, style="compact")


def play(game: GeneralPoints, seed: int, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> bool:
    """One episode; returns whether it was solved. A person may type just the formula, e.g. ``(8-4)*6``."""
    ep = game.episode(seed)
    print(f"Split {game.split.name!r}, hand seed {seed}, {ep.verify_iter} attempts.\n", file=stdout)
    if game.vision:
        from gengap.gp.render import save_png

        path = save_png(ep.image, f"gengap-hand-{seed}.png")
        print(
            f"(vision task: the cards are only in {path}; answer like {{cards: [J, 3, A, 10], formula: ...}})\n",
            file=stdout,
        )
    print(ep.prompt, file=stdout)
    while not ep.done:
        print(f"\nattempt {ep.attempts + 1}/{ep.verify_iter}> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            print("\n(no more input)", file=stdout)
            return False
        if not line.strip():
            continue
        result = ep.step(_as_answer(line, game, ep.hand.ranks, ep.target))
        print(f"{result.outcome} (reward {result.reward:+g}): {result.feedback}", file=stdout)
    if ep.success:
        print("\nSolved!", file=stdout)
    else:
        print(f"\nOut of attempts. One solution: {ep.solutions[0] if ep.solutions else '(none)'}", file=stdout)
    return ep.success
