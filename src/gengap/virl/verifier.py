"""Score one navigation answer against the expert action and the true observation, as the study does.

| outcome | reward | when |
|---|---|---|
| ``correct`` | +1 | the action equals the expert action (and the observation is right) |
| ``wrong_action`` | −1 | a readable action that is not the expert's (also one outside the listed action space) |
| ``wrong_observation`` | −1.5 | the observation claims an intersection where there is none, misses one, or is missing |
| ``illegal`` | −1 | no readable action, or two different ones (the spec gives no value; scored as a wrong action) |
| ``too_long`` | −1 | longer than ``MAX_ANSWER_CHARS`` characters: scored without reading it (the illegal reward) |

A wrong answer is not executed: the agent stays where it is. Running out of attempts at a point adds the
budget penalty (−1) and ends the episode, as in GeneralPoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gengap.virl.answer import MAX_ANSWER_CHARS, VIRLAnswer, claims_intersection, parse_answer

TOO_LONG = f"your answer is longer than {MAX_ANSWER_CHARS} characters; answer briefly in the requested format"


class Outcome(StrEnum):
    CORRECT = "correct"
    WRONG_ACTION = "wrong_action"
    WRONG_OBSERVATION = "wrong_observation"
    ILLEGAL = "illegal"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class VIRLRewards:
    correct: float = 1.0
    wrong_action: float = -1.0
    wrong_observation: float = -1.5
    illegal: float = -1.0
    too_long: float = -1.0
    """An answer longer than the maximum: by default the illegal reward (it is not read at all)."""
    budget_exhausted: float = -1.0


REWARDS = VIRLRewards()


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reward: float
    feedback: str
    answer: VIRLAnswer


def verify(
    text: object,
    expert_action: str,
    at_intersection: bool,
    allowed: tuple[str, ...],
    rewards: VIRLRewards = REWARDS,
) -> Verdict:
    """``allowed``: the actions the prompt lists (canonical form). Never raises on any input, and takes time
    linear in the answer's length (at most ``MAX_ANSWER_CHARS`` are read)."""
    if isinstance(text, str) and len(text) > MAX_ANSWER_CHARS:
        return Verdict(Outcome.TOO_LONG, rewards.too_long, TOO_LONG, VIRLAnswer(None, None, None, None, TOO_LONG))
    ans = parse_answer(text)
    if ans.action is None:
        return Verdict(
            Outcome.ILLEGAL,
            rewards.illegal,
            f"your answer could not be read ({ans.error}); answer in the requested format with an action",
            ans,
        )
    if ans.observation is None or not ans.observation.strip():
        return Verdict(
            Outcome.WRONG_OBSERVATION,
            rewards.wrong_observation,
            "your answer has no current observation; describe what you observe, then act",
            ans,
        )
    claimed = claims_intersection(ans.observation)
    if claimed != at_intersection:
        why = "you claimed an intersection where there is none" if claimed else "you missed the intersection here"
        return Verdict(Outcome.WRONG_OBSERVATION, rewards.wrong_observation, f"your observation is wrong: {why}", ans)
    if ans.action not in allowed:
        return Verdict(
            Outcome.WRONG_ACTION,
            rewards.wrong_action,
            f"{ans.action} is not one of the available actions ({', '.join(allowed)})",
            ans,
        )
    if ans.action != expert_action:
        return Verdict(Outcome.WRONG_ACTION, rewards.wrong_action, "the action was wrong; try again", ans)
    return Verdict(Outcome.CORRECT, rewards.correct, "correct", ans)
