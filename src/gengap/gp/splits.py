"""Splits: the small, serialisable description of an evaluation (or training) distribution.

A :class:`Split` plus a seed fixes every hand, so each checkpoint of a study is scored on the same episodes.
The study's three splits (``id``, ``ood-rule``, ``ood-visual``) and the variants that later work used to test
its claim are built from the same few parameters; a user adds their own with :func:`register_split` or by
passing a dict / JSON file wherever a split name is accepted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gengap.gp.cards import BLACK_SUITS, RED_SUITS, SUIT_SYMBOLS
from gengap.gp.rules import OOD_RULE, TRAIN_RULE, Rule
from gengap.gp.solver import MAX_CARDS


@dataclass(frozen=True)
class Split:
    """Everything that defines a GeneralPoints distribution.

    ``rule`` scores the answers; ``prompt_rule`` is the rule the prompt *states* (``None``: the same). They
    differ only in the "fake rule" split, which tells rule-reading apart from memorisation. ``train_rule``
    is what a model that ignores the prompt would use; metrics count answers that follow it.
    """

    name: str
    rule: Rule = TRAIN_RULE
    prompt_rule: Rule | None = None
    train_rule: Rule = TRAIN_RULE
    target: int = 24
    n_cards: int = 4
    suits: tuple[str, ...] = BLACK_SUITS
    require_face: bool = False
    """Deal only hands with at least one J/Q/K: under a changed face rule, other hands are unchanged."""
    deck: bool = False
    """Deal from a real deck (no card twice) instead of drawing each card independently (the reference)."""
    phrasing: int | None = 0
    """Index of the prompt phrasing; ``None`` draws one per episode (the prompt-diversity variant)."""
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a split needs a name")
        if not 1 <= self.n_cards <= MAX_CARDS:  # more cards than the solver can handle quickly
            raise ValueError(f"split {self.name!r}: n_cards must be between 1 and {MAX_CARDS}, got {self.n_cards}")
        bad = [s for s in self.suits if s not in SUIT_SYMBOLS]
        if bad or not self.suits:
            raise ValueError(f"split {self.name!r}: suits must be among {list(SUIT_SYMBOLS)}, got {bad or '[]'}")
        if self.deck and self.n_cards > 13 * len(self.suits):
            raise ValueError(f"split {self.name!r}: a deck of {len(self.suits)} suits cannot deal {self.n_cards}")

    @property
    def stated_rule(self) -> Rule:
        return self.prompt_rule or self.rule

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rule"] = self.rule.to_dict()
        data["train_rule"] = self.train_rule.to_dict()
        data["prompt_rule"] = self.prompt_rule.to_dict() if self.prompt_rule else None
        data["suits"] = list(self.suits)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown split key(s) {unknown}; valid keys are {sorted(known)}")
        kwargs = dict(data)
        for key in ("rule", "train_rule", "prompt_rule"):
            if isinstance(kwargs.get(key), dict):
                kwargs[key] = Rule.from_dict(kwargs[key])
            elif isinstance(kwargs.get(key), str):
                kwargs[key] = named_rule(kwargs[key])
        if "suits" in kwargs:
            kwargs["suits"] = tuple(kwargs["suits"])
        return cls(**kwargs)


def named_rule(name: str) -> Rule:
    """``faces-10``, ``faces-11-12-13``, ``faces-5`` …: a rule from its name."""
    parts = name.split("-")
    try:
        if parts[0] == "faces" and len(parts) in (2, 4):
            return Rule.faces(*(int(p) for p in parts[1:]), name=name)  # type: ignore[arg-type]
    except ValueError:
        pass
    raise ValueError(f"unknown rule {name!r}; use 'faces-J' or 'faces-J-Q-K' (e.g. 'faces-11-12-13')")


SPLITS: dict[str, Split] = {}


def register_split(split: Split) -> Split:
    SPLITS[split.name] = split
    return split


for _split in (
    Split("id", description="training distribution: J/Q/K = 10, black suits"),
    Split("ood-rule", rule=OOD_RULE, require_face=True, description="rule OOD: J/Q/K = 11/12/13"),
    Split("ood-visual", suits=RED_SUITS, description="visual OOD: red suits (VL)"),
    Split("faces-5", rule=Rule.faces(5), require_face=True, description="all faces count as 5"),
    Split("faces-7", rule=Rule.faces(7), require_face=True, description="all faces count as 7"),
    Split("faces-12", rule=Rule.faces(12), require_face=True, description="all faces count as 12"),
    Split("large-numbers", rule=Rule.scaled(10), target=240, description="every value x10, target 240"),
    Split("five-cards", n_cards=5, description="five cards instead of four"),
    Split("target-30", target=30, description="target 30 instead of 24"),
    Split(
        "fake-rule",
        prompt_rule=OOD_RULE,
        require_face=True,
        description="prompt states J/Q/K = 11/12/13 but scoring uses the training rule",
    ),
    Split("diverse-prompts", phrasing=None, description="ID hands, one of several prompt phrasings each"),
    Split("id-deck", deck=True, description="ID rule, dealt from a real deck without replacement"),
):
    register_split(_split)


def get_split(spec: str | Split | dict[str, Any], **overrides: Any) -> Split:
    """A split from a registered name, a dict, a ``.json`` file path or a :class:`Split`, with overrides."""
    if isinstance(spec, Split):
        split = spec
    elif isinstance(spec, dict):
        split = Split.from_dict(spec)
    elif spec in SPLITS:
        split = SPLITS[spec]
    elif str(spec).endswith(".json"):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"split file {path} does not exist")
        split = Split.from_dict(json.loads(path.read_text()))
    else:
        raise ValueError(f"unknown split {spec!r}; choose one of {sorted(SPLITS)} or pass a .json file")
    return replace(split, **overrides) if overrides else split
