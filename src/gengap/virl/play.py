"""Walk a V-IRL route in the terminal against the same verifier and feedback a model gets.

Type an action (``forward``, ``turn_direction(east)``, ``stop``); add ``@`` to also claim an intersection
(``@ turn_direction(east)``), or type a full JSON answer.
"""

from __future__ import annotations

import sys
from typing import TextIO

from gengap.virl.game import VIRL
from gengap.virl.prompts import format_answer


def _as_answer(line: str, style: str) -> str:
    text = line.strip()
    if text.startswith("{") or "\n" in text:
        return text
    at = text.startswith("@")
    action = text.lstrip("@").strip()
    obs = "You observe an intersection." if at else "You see the street."
    return format_answer(obs, 0, "", action, style=style)


def play(game: VIRL, seed: int, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> bool:
    """One route; returns whether it was completed."""
    ep = game.episode(seed)
    route = ep.route
    print(
        f"World {route.world!r}, split {game.split.name!r}, route {route.id}, {len(route.rail)} points, "
        f"{ep.verify_iter} attempts per point.",
        file=stdout,
    )
    print("Type an action; prefix it with @ when you are at an intersection.\n", file=stdout)
    shown = -1
    while not ep.done:
        if ep.index != shown:
            shown = ep.index
            if game.vision:
                from gengap.virl.render import save_png

                path = save_png(ep.images()[0], f"gengap-virl-{seed}-{ep.index:03d}.png")
                print(f"\n(the street views are in {path})", file=stdout)
            print(f"\n{ep.prompt}", file=stdout)
        print(
            f"\npoint {ep.index + 1}/{len(route.rail)}, attempt {ep.attempts_here + 1}> ",
            end="",
            file=stdout,
            flush=True,
        )
        line = stdin.readline()
        if not line:
            print("\n(no more input)", file=stdout)
            return False
        if not line.strip():
            continue
        result = ep.step(_as_answer(line, game.style))
        print(f"{result.outcome} (reward {result.reward:+g}): {result.feedback}", file=stdout)
    print("\nArrived!" if ep.success else "\nOut of attempts.", file=stdout)
    return ep.success
