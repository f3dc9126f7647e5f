"""The pretraining corpus of the built-in base models: general skills, never the study's own tasks.

A real foundation model arrives knowing how to read a rule stated in text, do exact arithmetic, make a
number from other numbers and answer in a requested format. The study asks whether SFT or RL keeps those
abilities, so our tiny base models must have them too. Every generator here is reproducible from
``(config, seed)``. What the corpus never contains is the study's training or evaluation task itself: a card
hand under the J/Q/K = 10 or 11/12/13 rules with target 24 (see :func:`is_study_task`).

Skills (mixture weights in :class:`CorpusConfig`):

* ``arithmetic`` — evaluate an expression exactly (``7*8-3`` → ``53``, ``8/3+1`` → ``11/3``);
* ``rule_values`` — apply a face-value rule stated in the prompt to a list of cards;
* ``make_target`` — make a target from given numbers (any numbers, any target);
* ``rule_cards_target`` — cards + a random rule + a target other than 24 → values and formula;
* ``game24`` — the famous "make 24 from four numbers" puzzle (numbers 1..13, no cards, no rule): the part of
  the puzzle skill a real LLM has read many times on the web. Off by default; see :class:`CorpusConfig`.
* ``pick_word`` — choose, from a listed vocabulary, the word that matches a sentence (instruction following).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from gengap.gp.cards import RANKS
from gengap.gp.formula import evaluate
from gengap.gp.rules import OOD_RULE, TRAIN_RULE, Rule

SKILLS = ("arithmetic", "rule_values", "make_target", "rule_cards_target", "game24", "pick_word")
STUDY_RULES = (TRAIN_RULE.values, OOD_RULE.values)
STUDY_TARGET = 24


@dataclass(frozen=True)
class CorpusConfig:
    """What the base model is pretrained on."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "arithmetic": 0.5,
            "rule_values": 3.0,
            "make_target": 1.0,
            "rule_cards_target": 3.0,
            "pick_word": 0.25,
        }
    )
    """Mixture weights of the skills. With these, reading a stated rule emerged between steps 500 and 750 of a
    1,500-step run (batch 32) and reached 78 % rule accuracy on the unseen J/Q/K = 11/12/13 rule."""
    max_number: int = 13
    """Largest number in arithmetic and make-target examples."""
    max_face_value: int = 20
    """Face cards in random rules count as 1..max_face_value."""
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(SKILLS)
        if unknown:
            raise ValueError(f"unknown corpus skill(s) {sorted(unknown)}; choose from {SKILLS}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_study_task(rule: Rule, target: int) -> bool:
    """The card game with the study's rules and target: kept out of pretraining."""
    return target == STUDY_TARGET and rule.values in STUDY_RULES


def _fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _random_expression(rng: random.Random, n: int, max_number: int) -> str:
    nums = [str(rng.randint(1, max_number)) for _ in range(n)]
    text = nums[0]
    for x in nums[1:]:
        op = rng.choice("+-*/")
        text = f"({text}){op}{x}" if rng.random() < 0.3 else f"{text}{op}{x}"
    return text


def _random_rule(rng: random.Random, max_face: int) -> Rule:
    while True:
        j, q, k = (rng.randint(1, max_face) for _ in range(3))
        if rng.random() < 0.3:
            q = k = j
        rule = Rule.faces(j, q, k)
        if rule.values not in STUDY_RULES:
            return rule


def _conversation(user: str, assistant: str, skill: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
        "skill": skill,
    }


def arithmetic(rng: random.Random, cfg: CorpusConfig) -> dict[str, Any]:
    while True:
        expr = _random_expression(rng, rng.randint(2, 4), cfg.max_number)
        try:
            value = evaluate(expr).value
        except ValueError:
            continue
        return _conversation(f"compute: {expr}", f"value: {_fmt(value)}", "arithmetic")


def rule_values(rng: random.Random, cfg: CorpusConfig) -> dict[str, Any]:
    rule = _random_rule(rng, cfg.max_face_value)
    cards = [rng.choice(RANKS) for _ in range(rng.randint(2, 6))]
    values = rule.hand_values(cards)
    return _conversation(
        f"cards: {' '.join(cards)}\nrule: {rule.compact()}",
        f"numbers: {' '.join(map(str, values))}",
        "rule_values",
    )


def _expression_over(rng: random.Random, numbers: list[int]) -> str:
    """A random formula that uses each number once: random order, random tree, random operators."""
    items = [str(n) for n in numbers]
    rng.shuffle(items)
    kinds = ["num"] * len(items)  # 'num', 'sum' or 'prod': only what the parentheses need
    while len(items) > 1:
        i = rng.randrange(len(items) - 1)
        op = rng.choice("+-*/")
        a, b = items[i], items[i + 1]
        ka, kb = kinds[i], kinds[i + 1]
        if op in "*/":
            a = f"({a})" if ka == "sum" else a
            b = f"({b})" if kb == "sum" or (op == "/" and kb == "prod") else b
        elif op == "-" and kb == "sum":
            b = f"({b})"
        items[i : i + 2] = [f"{a}{op}{b}"]
        kinds[i : i + 2] = ["sum" if op in "+-" else "prod"]
    return items[0]


def _formula_and_target(
    rng: random.Random, numbers: list[int], avoid: int | None = None, tries: int = 50
) -> tuple[str, int] | None:
    """A formula over the numbers whose value is a whole number in 1..99 (not ``avoid``): the target.

    Drawing the formula first and reading off its value is thousands of times faster than searching for a
    solution to a drawn target, and every target it yields is solvable by construction.
    """
    for _ in range(tries):
        formula = _expression_over(rng, numbers)
        try:
            ev = evaluate(formula)
        except ValueError:
            continue
        if ev.num % ev.den == 0:
            target = ev.num // ev.den
            if 1 <= target <= 99 and target != avoid:
                return formula, target
    return None


def make_target(rng: random.Random, cfg: CorpusConfig) -> dict[str, Any]:
    while True:
        numbers = [rng.randint(1, cfg.max_number) for _ in range(rng.choice((2, 3, 4, 4, 4)))]
        found = _formula_and_target(rng, numbers)
        if found is None:
            continue
        formula, target = found
        return _conversation(
            f"numbers: {' '.join(map(str, numbers))}\ntarget: {target}", f"formula: {formula}", "make_target"
        )


def rule_cards_target(rng: random.Random, cfg: CorpusConfig) -> dict[str, Any]:
    while True:
        rule = _random_rule(rng, cfg.max_face_value)
        cards = [rng.choice(RANKS) for _ in range(4)]
        values = list(rule.hand_values(cards))
        found = _formula_and_target(rng, values, avoid=STUDY_TARGET)
        if found is None:
            continue
        formula, target = found
        assert not is_study_task(rule, target)
        return _conversation(
            f"cards: {' '.join(cards)}\nrule: {rule.compact()}\ntarget: {target}",
            f"numbers: {' '.join(map(str, values))}\nformula: {formula}",
            "rule_cards_target",
        )


_CATEGORIES = {
    "colour": ["red", "green", "blue", "black", "white"],
    "animal": ["cat", "dog", "horse", "bird", "fish"],
    "direction": ["north", "south", "east", "west"],
    "turn": ["left", "right", "forward", "back"],
}


def game24(rng: random.Random, cfg: CorpusConfig) -> dict[str, Any]:
    """Four numbers that can make 24, and the solver's shortest canonical formula for them.

    Plain numbers in the ``make_target`` format, never cards or a face rule: knowing the puzzle is a general
    skill; reading the rule that turns cards into numbers is what the study tests.
    """
    from gengap.gp.solver import solve

    while True:
        numbers = [rng.randint(1, cfg.max_number) for _ in range(4)]
        solutions = solve(numbers, STUDY_TARGET)
        if solutions:
            return _conversation(
                f"numbers: {' '.join(map(str, numbers))}\ntarget: {STUDY_TARGET}", f"formula: {solutions[0]}", "game24"
            )


def pick_word(rng: random.Random, cfg: CorpusConfig) -> dict[str, Any]:
    category = rng.choice(sorted(_CATEGORIES))
    words = _CATEGORIES[category]
    choice = rng.choice(words)
    options = words[:]
    rng.shuffle(options)
    return _conversation(
        f"options: {', '.join(options)}\nsay: the {category} is {choice}", f"answer: {choice}", "pick_word"
    )


GENERATORS = {
    "arithmetic": arithmetic,
    "rule_values": rule_values,
    "make_target": make_target,
    "rule_cards_target": rule_cards_target,
    "game24": game24,
    "pick_word": pick_word,
}


def corpus(cfg: CorpusConfig, n: int) -> Iterator[dict[str, Any]]:
    """``n`` conversations drawn from the mixture; the same config always yields the same corpus."""
    rng = random.Random(f"corpus:{cfg.seed}")
    skills = [s for s in SKILLS if cfg.weights.get(s, 0) > 0]
    weights = [cfg.weights[s] for s in skills]
    for _ in range(n):
        yield GENERATORS[rng.choices(skills, weights)[0]](rng, cfg)


# --- vision ------------------------------------------------------------------------------------------------

# One prompt per naming skill. With a character tokenizer, prompts of different lengths after the image put the
# answer at different distances from the image tokens, and tiny-vlm then learns to read far more slowly: from the
# same pretrained tower, 400 joint steps named 64 % of cards with one prompt and 15 % with three
# (benchmarks/vision_probe.py). After SFT on GP-VL, the one-prompt base recognised 77 % of red-suit (OOD-visual)
# tables against 56 % for a three-prompt base (both 100 % in distribution).
NAME_PROMPTS = ("name the cards",)


def name_cards(rng: random.Random, image_size: int) -> dict[str, Any]:
    """An image of 1–6 random cards of any suit, and their names: recognition, never the card game itself."""
    from gengap.gp.cards import SUIT_SYMBOLS, SUITS, Hand
    from gengap.gp.render import render_table

    n = rng.randint(1, 6)
    hand = Hand(tuple(rng.choice(RANKS) for _ in range(n)), tuple(rng.choice(SUITS) for _ in range(n)))
    names = " ".join(f"{r}{SUIT_SYMBOLS[s]}" for r, s in zip(hand.ranks, hand.suits, strict=True))
    return {
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": rng.choice(NAME_PROMPTS)}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"cards: {names}"}]},
        ],
        "images": [render_table(hand, image_size)],
        "skill": "name_cards",
    }


SIGN_PROMPTS = ("which shop signs do you see, and where?",)
VISION_SKILLS = ("name_cards", "name_signs")


def name_signs(rng: random.Random, image_size: int) -> dict[str, Any]:
    """Four street views of a procedural city in any style, and the shop signs in each view with whether a
    street opens there: reading street scenes, never the navigation task (no route, no directions, no action)."""
    from gengap.virl.render import STYLES, render_views
    from gengap.virl.routes import RouteConfig, route_for

    world = _sign_world(rng.randrange(4))
    route = route_for(world, rng.randrange(1 << 30), config=RouteConfig(min_turns=1))
    with_signs = [i for i, p in enumerate(route.rail) if p.landmarks] or [0]
    index = rng.choice(with_signs)
    point = route.rail[index]
    style = rng.choice(sorted(STYLES))
    image = render_views(world, route, index, style=style, size=image_size)
    signs = "; ".join(f"{name} {view}" for name, view in point.landmarks) or "none"
    answer = f"signs: {signs}\nintersection: {'yes' if point.intersection else 'no'}"
    return {
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": rng.choice(SIGN_PROMPTS)}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ],
        "images": [image],
        "skill": "name_signs",
    }


@lru_cache(maxsize=4)
def _sign_world(seed: int) -> Any:
    from gengap.virl.sources.grid import grid_world

    return grid_world(seed=100 + seed, name=f"signs-{seed}")


def vision_corpus(
    n: int, image_size: int, seed: int = 0, skills: tuple[str, ...] = VISION_SKILLS
) -> Iterator[dict[str, Any]]:
    """Image-naming conversations for the vision-language base model: cards of every suit and colour, and
    street views of every style with their shop signs (equal shares of the listed ``skills``)."""
    unknown = set(skills) - set(VISION_SKILLS)
    if unknown or not skills:
        raise ValueError(f"unknown vision skill(s) {sorted(unknown)}; choose from {VISION_SKILLS}")
    make = {"name_cards": name_cards, "name_signs": name_signs}
    rng = random.Random(f"vision-corpus:{seed}")
    for _ in range(n):
        yield make[rng.choice(skills)](rng, image_size)
