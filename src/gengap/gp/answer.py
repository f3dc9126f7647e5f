"""Turn a model's GeneralPoints answer text into fields: cards as read, numbers, formula, thought.

Every prompt style is read by the same function: a JSON object (strict, fenced, single-quoted, trailing
commas, prose around it) or compact ``key: value`` lines. Reading never raises; what cannot be read is
reported in :attr:`Answer.error` and scored as illegal by the verifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gengap.core.lenient_json import find_key_lines, find_object
from gengap.gp.cards import rank_of

MAX_ANSWER_CHARS = 8192

_KEYS = {
    "formula": "formula",
    "equation": "formula",
    "expression": "formula",
    "cards": "cards",
    "card": "cards",
    "number": "numbers",
    "numbers": "numbers",
    "values": "numbers",
    "thought": "thought",
    "reasoning": "thought",
}
_KEY_SET = frozenset(_KEYS)
_LIST_ITEM = re.compile(r"10|[0-9]+|[A-Za-z]+")


@dataclass(slots=True)
class Answer:
    """What could be read from one answer. ``None`` fields were absent; ``error`` is set when unreadable."""

    formula: str | None = None
    cards: tuple[str | None, ...] | None = None
    numbers: tuple[int | None, ...] | None = None
    thought: str | None = None
    error: str | None = None


def _as_list(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return list(_LIST_ITEM.findall(value))
    return [value]


def _as_int(item: object) -> int | None:
    if type(item) is int:
        return item
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return int(item)
    if isinstance(item, float) and item.is_integer():
        return int(item)
    if isinstance(item, str) and item.strip().isascii() and item.strip().isdigit() and len(item.strip()) < 8:
        return int(item)
    return None


def parse_answer(text: object) -> Answer:
    """Read an answer; never raises, whatever ``text`` is."""
    if not isinstance(text, str):
        return Answer(error="the answer is not text")
    if len(text) > MAX_ANSWER_CHARS:
        return Answer(error=f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    fields: dict[str, object] = {}
    obj = find_object(text)
    if obj is not None:
        if "formula" in obj:  # the requested format: read the keys directly (the common, fast case)
            fields["formula"] = obj["formula"]
            for key, name in (
                ("cards", "cards"),
                ("number", "numbers"),
                ("numbers", "numbers"),
                ("thought", "thought"),
            ):
                if key in obj and name not in fields:
                    fields[name] = obj[key]
        else:
            for key, value in obj.items():
                name = _KEYS.get(str(key).strip().lower())
                if name and name not in fields:
                    fields[name] = value
    if "formula" not in fields:
        for key, value in find_key_lines(text, _KEY_SET).items():
            fields.setdefault(_KEYS[key], value)
    if not fields:
        return Answer(error="no answer in the requested format was found (give 'formula' as JSON or 'formula: …')")
    answer = Answer()
    formula = fields.get("formula")
    if formula is None:
        answer.error = "the answer has no 'formula' field"
    elif isinstance(formula, str | int) and not isinstance(formula, bool):
        answer.formula = str(formula)
    else:
        answer.error = "the 'formula' field is not a string"
    if "cards" in fields:
        answer.cards = tuple(map(rank_of, _as_list(fields["cards"])[:16]))
    if "numbers" in fields:
        answer.numbers = tuple(map(_as_int, _as_list(fields["numbers"])[:16]))
    thought = fields.get("thought")
    if isinstance(thought, str):
        answer.thought = thought
    return answer
