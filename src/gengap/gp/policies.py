"""Scripted GeneralPoints policies: instruments for checking the measurement pipeline, not models.

Each is a :data:`gengap.core.episode.Policy` that reads the episode's hand directly (privileged access a
model never has) and answers in the episode's prompt style. They bracket what the study measures:

* ``oracle`` — solves with the scoring rule: every split at 100 %, the ceiling of the instruments;
* ``rule-reader`` — solves with the rule the *prompt states*: a perfect generaliser (fails only the fake
  rule, where the prompt lies);
* ``rule-blind`` — always uses the training rule (J/Q/K = 10): a perfect memoriser (fails rule OOD);
* ``noisy`` — the rule-reader, but each attempt is wrong with probability ``p``: shows what extra
  verification attempts buy;
* ``random`` — a random formula over the stated values: the floor.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from gengap.gp.game import GPEpisode
from gengap.gp.prompts import format_answer
from gengap.gp.solver import solve

OPS = "+-*/"


def random_formula(values: Sequence[int], rng: random.Random) -> str:
    nums = list(values)
    rng.shuffle(nums)
    text = str(nums[0])
    for n in nums[1:]:
        text = f"({text}){rng.choice(OPS)}{n}" if rng.random() < 0.5 else f"{text}{rng.choice(OPS)}{n}"
    return text


def _answer(ep: GPEpisode, numbers: Sequence[int], formula: str) -> str:
    return format_answer(
        formula,
        numbers,
        ep.hand.ranks if (ep.game.vision or ep.game.style == "paper") else None,
        ep.target,
        style=ep.game.style,
    )


def _solving(values_of: Callable[[GPEpisode], Sequence[int]]) -> Callable[[Sequence[GPEpisode]], list[str]]:
    def policy(episodes: Sequence[GPEpisode]) -> list[str]:
        out = []
        for ep in episodes:
            values = values_of(ep)
            sols = solve(values, ep.target)
            formula = sols[0] if sols else "+".join(map(str, values))
            out.append(_answer(ep, values, formula))
        return out

    return policy


oracle = _solving(lambda ep: ep.values)
rule_reader = _solving(lambda ep: ep.stated_values)
rule_blind = _solving(lambda ep: ep.train_values)


def noisy(p: float = 0.5, seed: int = 0) -> Callable[[Sequence[GPEpisode]], list[str]]:
    """The rule-reader, except that each attempt is a random (almost always wrong) formula with probability p."""

    def policy(episodes: Sequence[GPEpisode]) -> list[str]:
        out = []
        for ep in episodes:
            rng = random.Random(f"{seed}:{ep.seed}:{ep.attempts}")
            if rng.random() < p:
                out.append(_answer(ep, ep.stated_values, random_formula(ep.stated_values, rng)))
            else:
                out.extend(rule_reader([ep]))
        return out

    return policy


def random_policy(seed: int = 0) -> Callable[[Sequence[GPEpisode]], list[str]]:
    def policy(episodes: Sequence[GPEpisode]) -> list[str]:
        return [
            _answer(
                ep,
                ep.stated_values,
                random_formula(ep.stated_values, random.Random(f"{seed}:{ep.seed}:{ep.attempts}")),
            )
            for ep in episodes
        ]

    return policy


POLICIES: dict[str, Callable[[], Callable[[Sequence[GPEpisode]], list[str]]]] = {
    "oracle": lambda: oracle,
    "rule-reader": lambda: rule_reader,
    "rule-blind": lambda: rule_blind,
    "noisy": lambda: noisy(0.5),
    "random": lambda: random_policy(0),
}


def get_policy(name: str) -> Callable[[Sequence[GPEpisode]], list[str]]:
    if name not in POLICIES:
        raise ValueError(f"unknown scripted policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name]()
