"""The episode contract every game follows, and the one loop that plays many episodes at once.

An episode is a conversation: the game writes user turns (the task, then feedback), a policy writes the
assistant turns, and :meth:`Episode.step` scores each answer with the game's verifier. Data generation,
evaluation, SFT and RL all drive episodes through this contract, so a game is written once. The loop below
batches every live episode into one policy call and refills the batch as episodes finish: batched model
inference is only fast when the batch stays full.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]


@dataclass(slots=True)
class StepResult:
    """What one answer earned. ``terminated``: the task ended (solved, route done); ``truncated``: we stopped it."""

    reward: float
    terminated: bool
    truncated: bool
    outcome: str
    feedback: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


@runtime_checkable
class Episode(Protocol):
    """One multi-turn episode of any game."""

    seed: int
    messages: list[Message]
    done: bool
    success: bool

    def step(self, answer: str) -> StepResult: ...

    def images(self) -> list[Any]: ...

    def record(self) -> dict[str, Any]: ...


Policy = Callable[[Sequence[Episode]], Sequence[str]]
"""A policy answers the current turn of a batch of episodes (it reads ``messages`` and ``images()``)."""


def text_only(message: Message) -> Message:
    """A turn with its image parts replaced by ``<image>``: what episode records (JSON lines) keep."""
    content = message["content"]
    if isinstance(content, list):
        content = "".join("<image>" if part.get("type") == "image" else part.get("text", "") for part in content)
    return {"role": message["role"], "content": content}


def episode_seed(seed: int, index: int) -> int:
    """The seed of episode ``index`` of an evaluation set: stable across runs, machines and Python versions.

    Each episode gets its own seed (rather than one stream for the set) so that any single episode can be
    replayed alone, e.g. with ``env.reset(seed=episode_seed(seed, index))``.
    """
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def play(
    policy: Policy,
    episodes: Iterable[Episode],
    *,
    batch_size: int = 64,
    on_done: Callable[[Episode], None] | None = None,
) -> list[Episode]:
    """Play episodes to the end with at most ``batch_size`` in flight; return them in the order finished.

    ``on_done`` is called as each episode finishes (write it to disk, advance a progress bar), so a long run
    keeps its finished work if it is interrupted.
    """
    pending = iter(episodes)
    live: list[Episode] = []
    finished: list[Episode] = []
    exhausted = False
    while True:
        while not exhausted and len(live) < batch_size:
            ep = next(pending, None)
            if ep is None:
                exhausted = True
            elif not ep.done:
                live.append(ep)
        if not live:
            return finished
        answers = policy(live)
        if len(answers) != len(live):
            raise ValueError(f"policy returned {len(answers)} answers for {len(live)} episodes")
        still: list[Episode] = []
        for ep, answer in zip(live, answers, strict=True):
            ep.step(answer)
            if ep.done:
                finished.append(ep)
                if on_done is not None:
                    on_done(ep)
            else:
                still.append(ep)
        live = still
