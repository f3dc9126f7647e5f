"""Turn a model's GeneralPoints answer text into fields: cards as read, numbers, formula, thought.

Every prompt style is read by the same function: a JSON object (strict, fenced, single-quoted, trailing
commas, prose around it) or compact ``key: value`` lines. Reading never raises; what cannot be read is
reported in :attr:`Answer.error` and scored as illegal by the verifier.
"""

from __future__ import annotations

import re

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
_LIST_ITEM = re.compile(r"[0-9]+|[A-Za-z]+")


class Answer:
    """What could be read from one answer. ``None`` fields were absent; ``error`` is set when unreadable.

    ``cards`` and ``numbers`` are converted on first access: the verifier of the language task only needs the
    formula, and scoring is the hot loop of RL.
    """

    __slots__ = ("_cards", "_numbers", "_raw", "_text", "_thought", "error", "formula")

    def __init__(
        self,
        formula: str | None = None,
        raw: dict[str, object] | None = None,
        thought: str | None = None,
        error: str | None = None,
        *,
        text: str | None = None,
    ) -> None:
        self.formula = formula
        self.error = error
        self._raw = raw
        self._text = text  # read in full only if a field other than the formula is asked for
        self._thought = thought
        self._cards: object = _UNSET
        self._numbers: object = _UNSET

    @property
    def raw(self) -> dict[str, object]:
        if self._raw is None:
            self._raw = {} if self._text is None else _fields(self._text)
        return self._raw

    @property
    def thought(self) -> str | None:
        if self._thought is None:
            value = self.raw.get("thought")
            self._thought = value if isinstance(value, str) else None
        return self._thought

    @property
    def cards(self) -> tuple[str | None, ...] | None:
        """The ``cards`` field as rank strings (``None`` items: unreadable card); ``None`` if absent."""
        if self._cards is _UNSET:
            value = self.raw.get("cards")
            self._cards = None if value is None else tuple(map(rank_of, _as_list(value)[:16]))
        return self._cards  # type: ignore[return-value]

    @property
    def numbers(self) -> tuple[int | None, ...] | None:
        """The ``number`` field as ints (``None`` items: not an integer); ``None`` if absent."""
        if self._numbers is _UNSET:
            value = self.raw.get("numbers")
            self._numbers = None if value is None else tuple(map(_as_int, _as_list(value)[:16]))
        return self._numbers  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Answer(formula={self.formula!r}, cards={self.cards!r}, numbers={self.numbers!r}, error={self.error!r})"


_UNSET = object()


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


_FORMULA_FIELD = re.compile(r'"formula"\s*:\s*"([^"\\]*)"')


def _fields(text: str) -> dict[str, object]:
    """Every field we know, under our names, from a JSON-like object or ``key: value`` lines."""
    fields: dict[str, object] = {}
    obj = find_object(text)
    if obj is not None:
        for key, value in obj.items():
            name = _KEYS.get(str(key).strip().lower())
            if name and name not in fields:
                fields[name] = value
    if "formula" not in fields:
        for key, value in find_key_lines(text, _KEY_SET).items():
            fields.setdefault(_KEYS[key], value)
    return fields


def parse_answer(text: object) -> Answer:
    """Read an answer; never raises, whatever ``text`` is."""
    if not isinstance(text, str):
        return Answer(error="the answer is not text")
    if len(text) > MAX_ANSWER_CHARS:
        return Answer(error=f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    if text[:1] == "{" and text[-1:] == "}":
        # Fast path for the requested format (the common case once a model has learnt it): one plain
        # "formula" string field. The rest of the object is read only if someone asks for it.
        found = _FORMULA_FIELD.findall(text)
        if len(found) == 1 and text.count('"formula"') == 1:
            return Answer(found[0], text=text)
    fields = _fields(text)
    if not fields:
        return Answer(error="no answer in the requested format was found (give 'formula' as JSON or 'formula: …')")
    answer = Answer(raw=fields)
    formula = fields.get("formula")
    if formula is None:
        answer.error = "the answer has no 'formula' field"
    elif isinstance(formula, str | int) and not isinstance(formula, bool):
        answer.formula = str(formula)
    else:
        answer.error = "the 'formula' field is not a string"
    return answer
