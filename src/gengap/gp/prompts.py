"""What the model reads and how an expert answer is written, in two styles.

* ``paper``: our own wording of the study's task description (rule, target, each card once, JSON answer
  with ``cards``, ``number`` and ``formula``), with several phrasings for prompt-diversity studies.
* ``compact``: the same information in a few dozen characters and ``key: value`` answers, for tiny CPU
  models whose cost grows with every character.

The verifier reads answers of both styles, so a model's style never changes how it is scored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gengap.gp.rules import Rule

STYLES = ("paper", "compact")

# Each phrasing fills: {cards} (the card list sentence or the image sentence), {rule}, {target}, {n}, {fmt}.
PHRASINGS: tuple[str, ...] = (
    "You are playing an arithmetic card game. {cards} Card values: {rule} "
    "Write one formula that uses the value of each card exactly once, combined with +, -, * and / and "
    "parentheses, so that it equals {target}. {fmt}",
    "Goal: reach {target}. {cards} {rule} Combine the {n} card values with addition, subtraction, "
    "multiplication, division and brackets, using every card exactly once. {fmt}",
    "Here is a puzzle. {cards} Use all {n} cards, each one exactly once, and the operations + - * / with "
    "parentheses to build an expression whose value is {target}. Remember: {rule} {fmt}",
    "{cards} In this game {rule} Find an arithmetic expression over the card values that equals {target}; "
    "each card must appear once and only once. {fmt}",
)

_FMT_L = (
    'Answer with JSON only, {{"cards": [...], "number": [...], "formula": "..."}}; for instance, cards 2, 3, 4 '
    "and 5 with target 24 could be answered {example}."
)
_FMT_VL = (
    'Answer with JSON only, {{"cards": [the cards you see], "number": [their values], "formula": "..."}}; for '
    "instance, cards 2, 3, 4 and 5 with target 24 could be answered {example}."
)
# Rule-neutral on purpose (no face card), so the example never hints at a face value.
_EXAMPLE = json.dumps({"cards": ["2", "3", "4", "5"], "number": [2, 3, 4, 5], "formula": "(5+3-2)*4=24"})


def cards_sentence(ranks: Sequence[str]) -> str:
    return f"The cards are: {list(ranks)}."


def user_prompt(
    ranks: Sequence[str] | None,
    rule: Rule,
    target: int,
    n_cards: int,
    *,
    style: str = "paper",
    phrasing: int = 0,
) -> str:
    """The first user turn. ``ranks=None`` means the vision task: the cards are only in the image."""
    if style == "compact":
        head = f"cards: {' '.join(ranks)}\n" if ranks is not None else "cards: see image\n"
        return f"{head}rule: {rule.compact()}\ntarget: {target}"
    if style != "paper":
        raise ValueError(f"unknown prompt style {style!r}; choose one of {STYLES}")
    template = PHRASINGS[phrasing % len(PHRASINGS)]
    if ranks is None:
        cards, fmt = f"The image shows {n_cards} playing cards.", _FMT_VL
    else:
        cards, fmt = cards_sentence(ranks), _FMT_L
    return template.format(
        cards=cards, rule=rule.describe(), target=target, n=n_cards, fmt=fmt.format(example=_EXAMPLE)
    )


def feedback_prompt(feedback: str, *, style: str = "paper") -> str:
    """The user turn that follows a failed attempt in the multi-turn setting."""
    if style == "compact":
        return f"fail: {feedback}"
    return f"You failed this trial because {feedback}. Try again."


def format_answer(
    formula: str,
    numbers: Sequence[int],
    cards: Sequence[str] | None,
    target: int,
    *,
    style: str = "paper",
    thought: str | None = None,
) -> str:
    """An answer in the style's format, as expert data and scripted policies write it."""
    if style == "compact":
        lines = []
        if thought:
            lines.append(f"thought: {thought}")
        if cards is not None:
            lines.append(f"cards: {' '.join(cards)}")
        lines.append(f"numbers: {' '.join(map(str, numbers))}")
        lines.append(f"formula: {formula}")
        return "\n".join(lines)
    data: dict[str, object] = {}
    if thought:
        data["thought"] = thought
    data["cards"] = list(cards) if cards is not None else None
    data["number"] = list(numbers)
    data["formula"] = f"{formula}={target}"
    if cards is None:
        del data["cards"]
    return json.dumps(data)
