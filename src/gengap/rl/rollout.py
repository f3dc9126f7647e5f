"""The rollout engine: play many multi-turn episodes at once and record every turn for RL.

Every turn of every live episode goes into one batched generation call; the verifier's feedback is already
appended by the episode as the next user turn; finished episodes are replaced by new ones so the batch stays
full. Each :class:`Turn` keeps what the learner and the compute accounting need: prompt and answer token ids,
the answer's per-token log-probabilities under the sampling policy, the reward and outcome, and how the
episode went on. GeneralPoints and V-IRL, text and vision, all go through the same code: the engine only
knows the :class:`~gengap.core.episode.Episode` contract.

Episode ends, as GAE must see them:

* ``terminal``: the episode ended after this turn — solved, route done, or its attempt budget spent (the game
  has no continuation after a spent budget, so for GAE that is an end of the task, not a time limit);
* ``cut``: the engine stopped a live episode at ``max_turns``; GAE bootstraps from the value of the prompt it
  would have answered next (``next_prompt_ids``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gengap.core.episode import Episode, Message
from gengap.models.generation import Completion


class Generator(Protocol):
    """Answers the next assistant turn of each conversation (``images``: each conversation's images or ``[]``)."""

    def __call__(self, conversations: Sequence[list[Message]], images: Sequence[list[Any]]) -> list[Completion]: ...


@dataclass
class Turn:
    episode: int
    """Index of the episode in this rollout (order of start)."""
    index: int
    """Turn number within its episode, from 0."""
    messages: list[Message]
    """The conversation the answer was generated for (the prompt of this turn)."""
    images: list[Any]
    prompt_ids: list[int]
    answer_ids: list[int]
    logprobs: list[float]
    answer: str
    reward: float
    outcome: str
    terminal: bool = False
    cut: bool = False
    next_messages: list[Message] | None = None
    """For a cut episode: the conversation of the turn it would have played next (the bootstrap state)."""


@dataclass
class Rollout:
    turns: list[Turn]
    episodes: list[Episode]
    """Episodes in order of start (finished or cut)."""
    seconds: float
    prompt_tokens: int = 0
    generated_tokens: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def summarise(turns: Sequence[Turn], episodes: Sequence[Episode]) -> dict[str, Any]:
    """Per-update numbers a practitioner reads: reward, success, outcome counts, answer length."""
    finished = [ep for ep in episodes if ep.done]
    return {
        "episodes": len(episodes),
        "turns": len(turns),
        "mean_turn_reward": sum(t.reward for t in turns) / max(1, len(turns)),
        "mean_episode_return": sum(sum(t.reward for t in turns if t.episode == i) for i in range(len(episodes)))
        / max(1, len(episodes)),
        "success_rate": sum(ep.success for ep in finished) / max(1, len(finished)),
        "outcomes": dict(Counter(t.outcome for t in turns)),
        "mean_answer_tokens": sum(len(t.answer_ids) for t in turns) / max(1, len(turns)),
    }


def rollout(
    generate: Generator,
    new_episode: Callable[[int], Episode],
    n_episodes: int,
    *,
    batch_size: int = 64,
    max_turns: int | None = None,
) -> Rollout:
    """Play ``n_episodes`` (``new_episode(k)`` makes the k-th) with at most ``batch_size`` in flight.

    ``max_turns`` cuts an episode that has not ended after that many turns (marked ``cut`` for GAE).
    """
    t0 = time.perf_counter()
    episodes: list[Episode] = []
    turns: list[Turn] = []
    live: list[tuple[int, Episode]] = []
    played: Counter[int] = Counter()
    started = 0
    prompt_tokens = generated_tokens = 0
    while True:
        while started < n_episodes and len(live) < batch_size:
            ep = new_episode(started)
            episodes.append(ep)
            if not ep.done:
                live.append((started, ep))
            started += 1
        if not live:
            break
        conversations = [list(ep.messages) for _, ep in live]
        images = [ep.images() for _, ep in live]
        completions = generate(conversations, images)
        if len(completions) != len(live):
            raise ValueError(f"the generator returned {len(completions)} answers for {len(live)} conversations")
        still: list[tuple[int, Episode]] = []
        for (k, ep), conv, imgs, c in zip(live, conversations, images, completions, strict=True):
            result = ep.step(c.text)
            played[k] += 1
            turn = Turn(
                episode=k,
                index=played[k] - 1,
                messages=conv,
                images=imgs,
                prompt_ids=list(c.prompt_ids),
                answer_ids=list(c.token_ids),
                logprobs=list(c.logprobs),
                answer=c.text,
                reward=float(result.reward),
                outcome=result.outcome,
                terminal=result.done,
            )
            turns.append(turn)
            prompt_tokens += len(c.prompt_ids)
            generated_tokens += len(c.token_ids)
            if result.done:
                continue
            if max_turns is not None and played[k] >= max_turns:
                turn.cut = True
                turn.next_messages = list(ep.messages)
                continue
            still.append((k, ep))
        live = still
    return Rollout(
        turns=turns,
        episodes=episodes,
        seconds=time.perf_counter() - t0,
        prompt_tokens=prompt_tokens,
        generated_tokens=generated_tokens,
        stats=summarise(turns, episodes),
    )


def model_generator(model: Any, tokenizer: Any, sampling: Any, batch_size: int = 64) -> Generator:
    """The shared batched, KV-cached generation helper as a :class:`Generator`.

    It keeps the batch's cache from one turn to the next (a :class:`~gengap.models.continuation.GenerationSession`):
    when the live episodes of a turn all continue those of the last one, only their new tokens (answer and
    feedback) are prefilled. Make one generator per rollout: the kept cache is dropped when the weights change,
    but it holds memory for as long as the generator lives."""
    from gengap.models.continuation import GenerationSession
    from gengap.models.generation import generate

    session = GenerationSession()

    def run(conversations: Sequence[list[Message]], images: Sequence[list[Any]]) -> list[Completion]:
        has_images = any(images)
        return generate(
            model,
            tokenizer,
            conversations,
            sampling,
            images=list(images) if has_images else None,
            batch_size=batch_size,
            session=session,
        )

    run.session = session  # type: ignore[attr-defined]
    return run
