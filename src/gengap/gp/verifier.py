"""The GeneralPoints verifier: one outcome, one reward and one feedback sentence per answer.

Outcome classes and reward values are public API (see the README):

=================  ======  ==============================================================================
outcome            reward  when
=================  ======  ==============================================================================
``correct``        +5      legal formula, each card value used exactly once, equals the target
``wrong_value``    -1      legal and uses the cards correctly, but equals something else
``wrong_numbers``  -2      uses a number not in the hand, or a card value too often / not at all
``illegal``        -3      no readable answer, no formula, bad characters or syntax, division by zero,
                           the formula given twice with different values
``wrong_cards``    -1.5    vision only: the ``cards`` field does not match the dealt cards (as a multiset)
``too_long``       -3      longer than :data:`MAX_ANSWER_CHARS` characters; scored without reading it
=================  ======  ==============================================================================

A formula followed by ``=`` and a number claims that number as its result: ``8/(3-8/3)=25`` uses the right
cards and equals 24, but the claim is false, so it is ``wrong_value`` ("the formula equals 24, not 25 as
written"). Text after ``=`` that does not start with a number is ignored.

When the last allowed attempt fails the environment adds the budget penalty (-1) to that step's reward. The
reference implementation's optional +1 for a formula that is a strict prefix of a known solution is offered
with ``partial_credit=True`` (off by default); such answers keep their outcome and are flagged ``partial``.
Checks run in a fixed order (readable → cards → numbers → value) so each answer gets exactly one outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from gengap.gp.answer import MAX_ANSWER_CHARS, Answer, parse_answer
from gengap.gp.formula import FormulaError, evaluate

TOO_LONG = f"the answer is longer than {MAX_ANSWER_CHARS} characters; answer briefly in the requested format"


class Outcome(StrEnum):
    CORRECT = "correct"
    WRONG_VALUE = "wrong_value"
    WRONG_NUMBERS = "wrong_numbers"
    ILLEGAL = "illegal"
    WRONG_CARDS = "wrong_cards"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Rewards:
    """The paper's outcome reward; every value can be changed for reward-shaping studies."""

    correct: float = 5.0
    wrong_value: float = -1.0
    wrong_numbers: float = -2.0
    illegal: float = -3.0
    wrong_cards: float = -1.5
    too_long: float = -3.0
    """An answer longer than the maximum: by default the illegal reward (it is not read at all)."""
    budget_exhausted: float = -1.0
    partial: float = 1.0

    def of(self, outcome: Outcome) -> float:
        return getattr(self, outcome.value)


REWARDS = Rewards()


class Verdict:
    """The verifier's judgement of one answer.

    The feedback sentence is composed on first access: RL scores far more answers than it shows feedback for.
    """

    __slots__ = ("_feedback", "answer", "detail", "outcome", "partial", "reward", "target", "used", "values", "vnum")

    def __init__(
        self,
        outcome: Outcome,
        reward: float,
        answer: Answer,
        *,
        detail: str = "",
        used: tuple[int, ...] = (),
        values: Sequence[int] = (),
        target: int = 0,
        vnum: tuple[int, int] | None = None,
    ) -> None:
        self.outcome = outcome
        self.reward = reward
        self.answer = answer
        self.detail = detail
        self.used = used
        self.values = values
        self.target = target
        self.vnum = vnum
        self.partial = False
        self._feedback: str | None = None

    @property
    def correct(self) -> bool:
        return self.outcome is Outcome.CORRECT

    @property
    def value(self) -> Fraction | None:
        """The formula's exact value, for legal formulas that use the right numbers."""
        return None if self.vnum is None else Fraction(*self.vnum)

    @property
    def feedback(self) -> str:
        if self._feedback is None:
            o = self.outcome
            if o is Outcome.CORRECT:
                self._feedback = "the formula is correct"
            elif o is Outcome.WRONG_VALUE:
                self._feedback = self.detail or f"the formula equals {_fmt(self.value)}, not {self.target}"  # type: ignore[arg-type]
            elif o is Outcome.WRONG_NUMBERS:
                self._feedback = _numbers_feedback(self.used, self.values)
            else:
                self._feedback = self.detail
        return self._feedback

    def __repr__(self) -> str:
        return f"Verdict({self.outcome.value}, reward={self.reward}, feedback={self.feedback!r})"


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
    Never raises, and takes time linear in the answer's length (at most :data:`MAX_ANSWER_CHARS` are read).
    """
    if isinstance(text, str) and len(text) > MAX_ANSWER_CHARS:
        return Verdict(Outcome.TOO_LONG, rewards.too_long, Answer(error=TOO_LONG), detail=TOO_LONG)
    answer = parse_answer(text)
    formula = answer.formula
    if formula is None:
        return Verdict(Outcome.ILLEGAL, rewards.illegal, answer, detail=answer.error or "the answer has no formula")
    if cards is not None:
        read = answer.cards
        if read is None:
            return Verdict(
                Outcome.WRONG_CARDS, rewards.wrong_cards, answer, detail="you did not say which cards you see"
            )
        if sorted(read, key=str) != sorted(cards):
            return Verdict(Outcome.WRONG_CARDS, rewards.wrong_cards, answer, detail="you read the cards wrong")
    try:
        ev = evaluate(formula)
    except FormulaError as err:
        verdict = Verdict(Outcome.ILLEGAL, rewards.illegal, answer, detail=f"the formula is not valid: {err}")
        return _maybe_partial(verdict, formula, solutions, rewards) if partial_credit else verdict
    if sorted(ev.numbers) != sorted(values):
        verdict = Verdict(Outcome.WRONG_NUMBERS, rewards.wrong_numbers, answer, used=ev.numbers, values=values)
        return _maybe_partial(verdict, formula, solutions, rewards) if partial_credit else verdict
    if ev.num != target * ev.den:
        return Verdict(
            Outcome.WRONG_VALUE, rewards.wrong_value, answer, used=ev.numbers, target=target, vnum=(ev.num, ev.den)
        )
    if not ev.claim_holds:  # right value, but the answer says it is something else
        claimed = ev.claim_text if len(ev.claim_text) <= 24 else ev.claim_text[:24] + "…"
        return Verdict(
            Outcome.WRONG_VALUE,
            rewards.wrong_value,
            answer,
            detail=f"the formula equals {target}, not {claimed} as written",
            used=ev.numbers,
            target=target,
            vnum=(ev.num, ev.den),
        )
    return Verdict(Outcome.CORRECT, rewards.correct, answer, used=ev.numbers, target=target, vnum=(target, 1))


def _maybe_partial(verdict: Verdict, formula: str, solutions: Sequence[str], rewards: Rewards) -> Verdict:
    if solutions:
        head = "".join(formula.partition("=")[0].split())
        if head and any(len(head) < len(s) and s.startswith(head) for s in solutions):
            verdict.reward = rewards.partial
            verdict.partial = True
    return verdict
