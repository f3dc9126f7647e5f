"""GeneralPoints as a framework-free, multi-turn episode: the API that training and evaluation drive.

:class:`GeneralPoints` holds the settings (split, language or vision, prompt style, attempt budget, rewards);
:meth:`GeneralPoints.episode` deals one hand and returns a :class:`GPEpisode`, whose ``messages`` are the chat
so far and whose :meth:`GPEpisode.step` scores an answer. No Gymnasium wrapper sits in this path, so a
trainer can hold thousands of episodes and step them in a tight loop; :mod:`gengap.gp.env` wraps it for
Gymnasium users.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from gengap.core.episode import Message, StepResult, text_only
from gengap.core.game import GameBase
from gengap.core.lenient_json import clip_answer
from gengap.gp.cards import RANKS, Hand, rank_of
from gengap.gp.deal import deal
from gengap.gp.prompts import STYLES, feedback_prompt, user_prompt
from gengap.gp.solver import check_hand_size, solve
from gengap.gp.splits import Split, get_split
from gengap.gp.verifier import REWARDS, Outcome, Rewards, Verdict, verify


@dataclass(frozen=True)
class GPDataOptions:
    """How the expert writes GeneralPoints data (``gengap data --game gp``)."""

    thought: bool = field(default=False, metadata={"help": "add a short reasoning field to each expert answer"})
    solution: str = field(
        default="random",
        metadata={"help": "which solution the expert writes: random (any of the hand's) or shortest (always the same)"},
    )


@dataclass(frozen=True)
class GPShowOptions:
    """What ``gengap show --game gp`` renders."""

    cards: str | None = field(
        default=None, metadata={"help": "a fixed hand's ranks instead of the seed's, e.g. 3,3,8,8"}
    )


@dataclass(frozen=True)
class GeneralPoints(GameBase):
    """Settings of a GeneralPoints task; cheap to create, immutable, serialisable through :meth:`to_dict`."""

    title: ClassVar[str] = "GeneralPoints"
    EVAL_EPISODES: ClassVar[dict[str, int]] = {"*": 234}
    """The paper evaluates 234 episodes per split."""
    DATA_KINDS: ClassVar[tuple[str, ...]] = ("optimal", "suboptimal")
    METRICS: ClassVar[str] = "gengap.gp.metrics"
    POLICIES: ClassVar[str] = "gengap.gp.policies:POLICIES"
    DataOptions: ClassVar[type] = GPDataOptions
    ShowOptions: ClassVar[type] = GPShowOptions

    split: Split = field(default_factory=lambda: get_split("id"))
    vision: bool = False
    """GP-VL: the cards are shown only in an image and the answer must name them."""
    style: str = "paper"
    verify_iter: int = 5
    """Attempts per episode (the paper uses 5; 1 is single-turn)."""
    rewards: Rewards = REWARDS
    partial_credit: bool = field(
        default=False, metadata={"help": "+1 for a formula that is a strict prefix of a solution (the reference's)"}
    )
    image_size: int = 1200

    def __post_init__(self) -> None:
        if isinstance(self.split, str | dict):
            object.__setattr__(self, "split", get_split(self.split))
        if self.style not in STYLES:
            raise ValueError(f"unknown prompt style {self.style!r}; choose one of {STYLES}")
        if self.verify_iter < 1:
            raise ValueError(f"verify_iter must be at least 1, got {self.verify_iter}")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16 pixels, got {self.image_size}")

    def with_split(self, split: str | Split) -> GeneralPoints:
        return replace(self, split=get_split(split))

    def episode(self, seed: int, cards: Sequence[str] | None = None, verify_iter: int | None = None) -> GPEpisode:
        """Deal the hand of ``seed`` (or use the given ranks, 1 to :data:`~gengap.gp.solver.MAX_CARDS` of them:
        larger hands cannot be solved quickly) and start its episode."""
        rng = random.Random(seed)
        if cards is not None:
            cards = list(cards)
            check_hand_size(len(cards))
            ranks = tuple(_checked_rank(c) for c in cards)
            hand = Hand(ranks, tuple(rng.choice(self.split.suits) for _ in ranks))
        else:
            hand = deal(self.split, rng)
        phrasing = self.split.phrasing if self.split.phrasing is not None else rng.randrange(1 << 16)
        if verify_iter is not None and verify_iter < 1:
            raise ValueError(f"verify_iter must be at least 1, got {verify_iter}")
        return GPEpisode(self, hand, seed, phrasing, verify_iter or self.verify_iter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split.to_dict(),
            "vision": self.vision,
            "style": self.style,
            "verify_iter": self.verify_iter,
            "partial_credit": self.partial_credit,
            "image_size": self.image_size,
        }

    # ------------------------------------------------------------------ the game contract

    @classmethod
    def split_names(cls) -> dict[str, str]:
        from gengap.gp.splits import SPLITS

        return {name: s.description for name, s in SPLITS.items()}

    def eval_splits(self) -> list[str]:
        """The paper's: ID and rule OOD, and visual OOD for the vision form."""
        return ["id", "ood-rule", *(["ood-visual"] if self.vision else [])]

    def write_dataset(self, out: str | Path, *, n: int, seed: int, kind: str, progress: bool, **options: Any) -> Path:
        from gengap.gp.expert import write_dataset

        return write_dataset(self, out, n=n, seed=seed, kind=kind, progress=progress, **options)

    def show(self, seed: int, out: str | Path, cards: str | None = None) -> str:
        from gengap.gp.render import save_png

        ep = self.episode(seed, cards=[c for c in cards.split(",") if c] if cards else None)
        path = save_png(ep.image, out if str(out).endswith(".png") else Path(out) / "hand.png")
        return (
            f"{path}: {' '.join(ep.hand.ranks)} ({', '.join(ep.hand.suits)}), values {list(ep.values)}, "
            f"target {ep.target}, e.g. {ep.solutions[0] if ep.solutions else 'no solution'}"
        )

    def play_in_terminal(self, seed: int) -> bool:
        from gengap.gp.play import play

        return play(self, seed)


def _checked_rank(card: object) -> str:
    rank = rank_of(card)
    if rank is None:
        raise ValueError(f"{card!r} is not a card rank; use one of {list(RANKS)}")
    return rank


class Solutions(Sequence[str]):
    """A hand's canonical solutions, computed on first look (index, length, iteration, comparison, repr).

    ``step``'s ``info["solutions"]`` is one of these: solving a hand costs milliseconds, far more than a step,
    and most callers never look. Compare it with a list or call ``list()`` on it for a plain value; pickling
    keeps it lazy (it holds only the values and the target).
    """

    __slots__ = ("_found", "target", "values")

    def __init__(self, values: Sequence[int], target: int) -> None:
        self.values = tuple(values)
        self.target = target
        self._found: tuple[str, ...] | None = None

    @property
    def solved(self) -> bool:
        """Whether the solutions have been computed yet."""
        return self._found is not None

    def all(self) -> tuple[str, ...]:
        if self._found is None:
            self._found = solve(self.values, self.target)
        return self._found

    def __getitem__(self, index: Any) -> Any:
        return self.all()[index]

    def __len__(self) -> int:
        return len(self.all())

    def __iter__(self) -> Iterator[str]:
        return iter(self.all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self.all()) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self.all()))

    def __getstate__(self) -> tuple[tuple[int, ...], int, tuple[str, ...] | None]:
        return self.values, self.target, self._found

    def __setstate__(self, state: tuple[tuple[int, ...], int, tuple[str, ...] | None]) -> None:
        self.values, self.target, self._found = state


class GPEpisode:
    """One hand, played for up to ``verify_iter`` attempts."""

    def __init__(self, game: GeneralPoints, hand: Hand, seed: int, phrasing: int, verify_iter: int) -> None:
        split = game.split
        self.game = game
        self.hand = hand
        self.seed = seed
        self.verify_iter = verify_iter
        self.values = split.rule.hand_values(hand.ranks)
        """Values under the scoring rule."""
        self.stated_values = split.stated_rule.hand_values(hand.ranks)
        """Values under the rule the prompt states (differs from ``values`` only for the fake-rule split)."""
        self.train_values = split.train_rule.hand_values(hand.ranks)
        self.target = split.target
        self.prompt = user_prompt(
            None if game.vision else hand.ranks,
            split.stated_rule,
            split.target,
            len(hand),
            style=game.style,
            phrasing=phrasing,
        )
        content: Any = [{"type": "image"}, {"type": "text", "text": self.prompt}] if game.vision else self.prompt
        self.messages: list[Message] = [{"role": "user", "content": content}]
        self.verdicts: list[Verdict] = []
        self.rewards: list[float] = []
        self.done = False
        self.success = False
        self._image: Any = None
        self._solutions = Solutions(self.values, self.target)

    @property
    def solutions(self) -> tuple[str, ...]:
        """All canonical solutions under the scoring rule (computed on first use, then cached)."""
        return self._solutions.all()

    @property
    def image(self) -> Any:
        """The table image (a PIL image) of the vision task; rendered on first use."""
        if self._image is None:
            from gengap.gp.render import render_table

            self._image = render_table(self.hand, self.game.image_size)
        return self._image

    def images(self) -> list[Any]:
        return [self.image] if self.game.vision else []

    @property
    def attempts(self) -> int:
        return len(self.verdicts)

    def reset_info(self) -> dict[str, Any]:
        split = self.game.split
        return {
            "cards": list(self.hand.ranks),
            "suits": list(self.hand.suits),
            "values": list(self.values),
            "target": self.target,
            "rule": split.rule.name,
            "stated_rule": split.stated_rule.name,
            "split": split.name,
            "seed": self.seed,
            "verify_iter": self.verify_iter,
        }

    def step(self, answer: str) -> StepResult:
        """Score ``answer``; on failure with attempts left, append the feedback as the next user turn."""
        if self.done:
            raise RuntimeError("this episode has ended; start a new one")
        game = self.game
        verdict = verify(
            answer,
            self.values,
            self.target,
            cards=self.hand.ranks if game.vision else None,
            rewards=game.rewards,
            solutions=self.solutions if game.partial_credit else (),
            partial_credit=game.partial_credit,
        )
        self.verdicts.append(verdict)
        self.messages.append({"role": "assistant", "content": clip_answer(answer)})
        reward = verdict.reward
        terminated = verdict.outcome is Outcome.CORRECT
        truncated = not terminated and len(self.verdicts) >= self.verify_iter
        if truncated:
            reward += game.rewards.budget_exhausted
        elif not terminated:
            self.messages.append({"role": "user", "content": feedback_prompt(verdict.feedback, style=game.style)})
        self.rewards.append(reward)
        self.done = terminated or truncated
        self.success = terminated
        return StepResult(
            reward,
            terminated,
            truncated,
            verdict.outcome.value,
            verdict.feedback,
            {"verdict": verdict, "budget_exhausted": truncated},
        )

    def step_info(self, result: StepResult) -> dict[str, Any]:
        """The documented ``info`` dict of a step (built on demand: the hot loop does not need it).

        ``solutions`` is a :class:`Solutions` sequence: the hand is solved only when someone looks at it.
        """
        verdict: Verdict = result.info["verdict"]
        ans = verdict.answer
        return {
            "outcome": result.outcome,
            "feedback": result.feedback,
            "attempt": self.attempts,
            "budget_exhausted": result.info["budget_exhausted"],
            "partial": verdict.partial,
            "parsed": {
                "formula": ans.formula,
                "cards": list(ans.cards) if ans.cards is not None else None,
                "numbers": list(ans.numbers) if ans.numbers is not None else None,
                "error": ans.error,
            },
            "value": str(verdict.value) if verdict.value is not None else None,
            "solutions": self._solutions,
        }

    # --- measurements of one answer (the study's instruments) -------------------------------------

    def rule_correct(self, verdict: Verdict) -> bool:
        """Did the ``number`` field give the card values under the rule the prompt states? (missing: no)"""
        nums = verdict.answer.numbers
        return nums is not None and Counter(nums) == Counter(self.stated_values)

    def follows_train_rule(self, verdict: Verdict) -> bool | None:
        """On hands where the stated rule changes a value: did the answer use the training rule's values?"""
        if self.stated_values == self.train_values:
            return None
        nums = verdict.answer.numbers
        return False if nums is None else Counter(nums) == Counter(self.train_values)

    def cards_correct(self, verdict: Verdict) -> bool:
        """Did the ``cards`` field name the dealt ranks? (missing: no, as the verifier scores it)"""
        cards = verdict.answer.cards
        return cards is not None and Counter(cards) == Counter(self.hand.ranks)

    def record(self) -> dict[str, Any]:
        """A JSON-ready account of the episode: hand, every answer's outcome and measurements, the chat."""
        return {
            "seed": self.seed,
            "split": self.game.split.name,
            "vision": self.game.vision,
            "cards": list(self.hand.ranks),
            "suits": list(self.hand.suits),
            "values": list(self.values),
            "target": self.target,
            "success": self.success,
            "attempts": self.attempts,
            "return": sum(self.rewards),
            "outcomes": [v.outcome.value for v in self.verdicts],
            "rewards": self.rewards,
            "rule_correct": [self.rule_correct(v) for v in self.verdicts],
            "train_rule": [self.follows_train_rule(v) for v in self.verdicts],
            "cards_correct": [self.cards_correct(v) for v in self.verdicts],
            "parsed": [v.answer.formula is not None for v in self.verdicts],
            "messages": [text_only(m) for m in self.messages],
        }
