"""What the navigating model reads and how an expert answer is written, in two styles.

* ``paper``: our wording of the study's task: the numbered route directions, the listed action space, the
  history of observations and actions, the current observation (text, or for V-IRL-VL the 2×2 street-view
  image), and a JSON answer with ``current observation``, ``current instruction`` and ``action``.
* ``compact``: the same information in short ``key: value`` lines for tiny CPU models (history as a
  run-length list of past actions).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gengap.virl.geometry import VIEWS

STYLES = ("paper", "compact")

_WHERE = {"front": "in front of you", "right": "on your right", "back": "behind you", "left": "on your left"}
VIEW_LAYOUT = "front (top left), right (top right), back (bottom left) and left (bottom right)"
"""Where each street view sits in the 2×2 image; the same order as :data:`gengap.virl.geometry.VIEWS`."""
assert tuple(v.split()[0] for v in VIEW_LAYOUT.replace(" and", ",").split(", ")) == VIEWS


def observation_text(landmarks: Sequence[tuple[str, str]], intersection: bool, *, style: str = "paper") -> str:
    """The true observation at a point: the intersection flag and the visible places with their view."""
    if style == "compact":
        parts = ["intersection"] if intersection else []
        parts += [f"{name} {view}" for name, view in landmarks]
        return "; ".join(parts) if parts else "nothing"
    sentences = ["You observe an intersection."] if intersection else []
    if landmarks:
        items = [f"{name} {_WHERE[view]}" for name, view in landmarks]
        listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        sentences.append(f"You see {listed}.")
    elif not intersection:
        sentences.append("You see no named places.")
    return " ".join(sentences)


def action_list(directions: Sequence[str]) -> tuple[str, ...]:
    return ("forward()", *(f"turn_direction({d})" for d in directions), "stop()")


def user_prompt(
    instruction: str,
    directions: Sequence[str],
    history: Sequence[tuple[str, str]],
    observation: str | None,
    *,
    style: str = "paper",
) -> str:
    """The user turn at one point. ``observation=None`` means V-IRL-VL: the current view is the image."""
    if style == "compact":
        done = _run_length([a for _, a in history])
        now = observation if observation is not None else "see image"
        return (
            f"route:\n{instruction}\nturn to: {'|'.join(directions)}\n"
            f"done: {' '.join(done) if done else '-'}\nnow: {now}"
        )
    if style != "paper":
        raise ValueError(f"unknown prompt style {style!r}; choose one of {STYLES}")
    lines = [
        "You are walking through a city to a destination, following the route directions below.",
        "Directions:",
        instruction,
        "Actions: forward() moves on to the next point, turn_direction(x) turns you to face x and walks on, "
        f"stop() ends the walk at the destination. x is one of: {', '.join(directions)}.",
        "Observations and actions so far:",
    ]
    if history:
        lines += [f"{k}. {o} Action: {a}" for k, (o, a) in enumerate(history, 1)]
    else:
        lines.append("(none: this is the start)")
    if observation is None:
        lines.append(f"Current observation: the image shows your four street views: {VIEW_LAYOUT}.")
    else:
        lines.append(f"Current observation: {observation}")
    lines.append(
        'Answer with JSON only: {"current observation": "what you observe now (say if you are at an '
        'intersection)", "current instruction": "the direction you are carrying out", "action": "your action"}.'
    )
    return "\n".join(lines)


def feedback_prompt(feedback: str, *, style: str = "paper") -> str:
    if style == "compact":
        return f"fail: {feedback}"
    return f"You failed this step because {feedback}. Answer again in the same format."


def format_answer(observation: str, instruction_number: int, instruction: str, action: str, *, style: str) -> str:
    """An answer in the style's format, as expert data and scripted policies write it."""
    if style == "compact":
        return f"observation: {observation}\ninstruction: {instruction_number}\naction: {action}"
    return json.dumps(
        {"current observation": observation, "current instruction": instruction, "action": action},
        ensure_ascii=False,
    )


def _run_length(actions: Sequence[str]) -> list[str]:
    out: list[str] = []
    for a in actions:
        if out and out[-1].split("×")[0] == a:
            k = int(out[-1].split("×")[1]) + 1 if "×" in out[-1] else 2
            out[-1] = f"{a}×{k}"
        else:
            out.append(a)
    return out
