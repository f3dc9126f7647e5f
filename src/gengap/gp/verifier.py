"""The GeneralPoints verifier: one outcome, one reward and one feedback sentence per answer.

Outcome classes and reward values are public API (see the README):

=================  ======  ==============================================================================
outcome            reward  when
=================  ======  ==============================================================================
``correct``        +5      legal formula, each card value used exactly once, equals the target
``wrong_value``    -1      legal and uses the cards correctly, but equals something else
``wrong_numbers``  -2      uses a number not in the hand, or a card value too often / not at all
``illegal``        -3      no readable answer, no formula, bad characters or syntax, division by zero
``wrong_cards``    -1.5    vision only: the ``cards`` field does not match the dealt cards (as a multiset)
=================  ======  ==============================================================================

When the last allowed attempt fails the environment adds the budget penalty (-1) to that step's reward. The
reference implementation's optional +1 for a formula that is a strict prefix of a known solution is offered
with ``partial_credit=True`` (off by default); such answers keep their outcome and are flagged ``partial``.
Checks run in a fixed order (readable → cards → numbers → value) so each answer gets exactly one outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from gengap.gp.answer import Answer, parse_answer
from gengap.gp.formula import Evaluation, FormulaError, evaluate


class Outcome(StrEnum):
    CORRECT = "correct"
    WRONG_VALUE = "wrong_value"
    WRONG_NUMBERS = "wrong_numbers"
    ILLEGAL = "illegal"
    WRONG_CARDS = "wrong_cards"


@dataclass(frozen=True)
class Rewards:
    """The paper's outcome reward; every value can be changed for reward-shaping studies."""

    correct: float = 5.0
    wrong_value: float = -1.0
    wrong_numbers: float = -2.0
    illegal: float = -3.0
    wrong_cards: float = -1.5
    budget_exhausted: float = -1.0
    partial: float = 1.0

    def of(self, outcome: Outcome) -> float:
        return getattr(self, outcome.value)


REWARDS = Rewards()


@dataclass(slots=True)
class Verdict:
    """The verifier's judgement of one answer."""

    outcome: Outcome
    reward: float
    feedback: str
    answer: Answer
    value: Fraction | None = None
    partial: bool = False
    used: tuple[int, ...] = field(default=())

    @property
    def correct(self) -> bool:
        return self.outcome is Outcome.CORRECT


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _numbers_feedback(used: Sequence[int], values: Sequence[int]) -> str:
    have, want = Counter(used), Counter(values)
    parts = []
    for n in sorted(have - want):
        if n in want:
            extra = have[n] - want[n]
            parts.append(f"you used {n} {'once' if extra == 1 else f'{extra} times'} too many")
        else:
            parts.append(f"you used {n}, which is not a card value")
    missing = [str(n) for n in sorted((want - have).elements())]
    if missing:
        listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
        parts.append(f"you did not use {listed}")
    return "; ".join(parts) if parts else "you did not use each card value exactly once"


def verify(
    text: str,
    values: Sequence[int],
    target: int = 24,
    *,
    cards: Sequence[str] | None = None,
    rewards: Rewards = REWARDS,
    solutions: Sequence[str] = (),
    partial_credit: bool = False,
) -> Verdict:
    """Score one answer against a hand's ``values`` (under the scoring rule) and the ``target``.

    ``cards`` (the dealt rank strings) turns on the recognition check of the vision task: the answer's
    ``cards`` field must name the same ranks. ``solutions`` is only needed for ``partial_credit``.
    """
    answer = parse_answer(text)
    if answer.error is not None or answer.formula is None:
        return Verdict(Outcome.ILLEGAL, rewards.illegal, answer.error or "the answer has no formula", answer)
    if cards is not None:
        if answer.cards is None:
            return Verdict(Outcome.WRONG_CARDS, rewards.wrong_cards, "you did not say which cards you see", answer)
        if sorted(answer.cards, key=str) != sorted(cards):
            return Verdict(Outcome.WRONG_CARDS, rewards.wrong_cards, "you read the cards wrong", answer)
    try:
        ev: Evaluation = evaluate(answer.formula)
    except FormulaError as err:
        return _maybe_partial(
            Verdict(Outcome.ILLEGAL, rewards.illegal, f"the formula is not valid: {err}", answer),
            answer.formula,
            solutions,
            partial_credit,
            rewards,
        )
    if sorted(ev.numbers) != sorted(values):
        return _maybe_partial(
            Verdict(
                Outcome.WRONG_NUMBERS,
                rewards.wrong_numbers,
                _numbers_feedback(ev.numbers, values),
                answer,
                used=ev.numbers,
            ),
            answer.formula,
            solutions,
            partial_credit,
            rewards,
        )
    if ev.num != target * ev.den:
        value = ev.value
        return Verdict(
            Outcome.WRONG_VALUE,
            rewards.wrong_value,
            f"the formula equals {_fmt(value)}, not {target}",
            answer,
            value=value,
            used=ev.numbers,
        )
    return Verdict(
        Outcome.CORRECT, rewards.correct, "the formula is correct", answer, Fraction(target), used=ev.numbers
    )


def _maybe_partial(
    verdict: Verdict, formula: str, solutions: Sequence[str], enabled: bool, rewards: Rewards
) -> Verdict:
    if enabled and solutions:
        head = "".join(formula.partition("=")[0].split())
        if head and any(len(head) < len(s) and s.startswith(head) for s in solutions):
            verdict.reward = rewards.partial
            verdict.partial = True
    return verdict
