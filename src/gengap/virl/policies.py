"""Scripted V-IRL policies: instruments for checking the measurement pipeline, not models.

Each is a :data:`gengap.core.episode.Policy`: it reads the episode's route directly (privileged access a model
never has) and answers every episode of a batch in that episode's style. They bracket what the study measures:

* ``oracle`` — the expert answer (right observation, right action): 100 % on every split, the ceiling;
* ``rule-blind`` — a memoriser of the training rule: turns are always named by the *absolute* heading, even
  when the prompt lists only relative actions (right observation otherwise). Perfect on ``id``, fails every turn
  of ``ood-rule`` (and so every route there, at its first point);
* ``noisy`` — the oracle, except that each attempt is wrong with probability 0.5 (seeded by the episode's seed,
  the point and the attempt): shows what the second attempt at a point buys;
* ``random`` — a random listed action and a random claim about the intersection (seeded): the floor.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from gengap.virl.game import VIRLEpisode
from gengap.virl.prompts import format_answer

VIRLPolicy = Callable[[Sequence[VIRLEpisode]], list[str]]


def _answer(ep: VIRLEpisode, observation: str, action: str) -> str:
    p = ep.point
    return format_answer(
        observation, p.instruction, ep.route.instruction[p.instruction - 1], action, style=ep.game.style
    )


def _rng(ep: VIRLEpisode, seed: int, name: str) -> random.Random:
    return random.Random(f"{name}:{seed}:{ep.seed}:{ep.index}:{ep.attempts_here}")


def _claim(ep: VIRLEpisode, intersection: bool) -> str:
    """An observation that claims (or denies) an intersection, in the episode's style."""
    if ep.game.style == "compact":
        return "intersection" if intersection else "nothing"
    return "You observe an intersection." if intersection else "You see no intersection."


def wrong_answer(ep: VIRLEpisode, rng: random.Random) -> str:
    """A plausible mistake at the current point: another listed action, or a wrong claim about the intersection."""
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
    return _answer(ep, obs, action)


def oracle(episodes: Sequence[VIRLEpisode]) -> list[str]:
    return [ep.expert_answer() for ep in episodes]


def rule_blind(episodes: Sequence[VIRLEpisode]) -> list[str]:
    """Turns by the absolute heading whatever the prompt lists; the rest as the expert."""
    return [_answer(ep, ep.observation(), ep.point.action("absolute")) for ep in episodes]


def noisy(p: float = 0.5, seed: int = 0) -> VIRLPolicy:
    """The oracle, except that each attempt is a plausible mistake with probability ``p``."""

    def policy(episodes: Sequence[VIRLEpisode]) -> list[str]:
        out = []
        for ep in episodes:
            rng = _rng(ep, seed, "noisy")
            out.append(wrong_answer(ep, rng) if rng.random() < p else ep.expert_answer())
        return out

    return policy


def random_policy(seed: int = 0) -> VIRLPolicy:
    """A random listed action and a random intersection claim."""

    def policy(episodes: Sequence[VIRLEpisode]) -> list[str]:
        out = []
        for ep in episodes:
            rng = _rng(ep, seed, "random")
            out.append(_answer(ep, _claim(ep, rng.random() < 0.5), rng.choice(ep.allowed)))
        return out

    return policy


POLICIES: dict[str, Callable[[], VIRLPolicy]] = {
    "oracle": lambda: oracle,
    "rule-blind": lambda: rule_blind,
    "noisy": lambda: noisy(0.5),
    "random": lambda: random_policy(0),
}


def get_policy(name: str) -> VIRLPolicy:
    if name not in POLICIES:
        raise ValueError(f"unknown scripted policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name]()
