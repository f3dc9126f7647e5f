"""Turn a model's GeneralPoints answer text into fields: cards as read, numbers, formula, thought.

Every prompt style is read by the same function: a JSON object (strict, fenced, single-quoted, trailing
commas, prose around it) or compact ``key: value`` lines. Reading never raises; what cannot be read is
reported in :attr:`Answer.error` and scored as illegal by the verifier. Reading is linear in the answer's
length (see :mod:`gengap.core.lenient_json`), and answers longer than :data:`MAX_ANSWER_CHARS` are not read.

An answer that gives its formula more than once (``formula``, ``equation`` or ``expression``, in the object
or, when the object has none, in ``key: value`` lines) with different values is ambiguous and unreadable;
the same formula repeated is fine.
"""

from __future__ import annotations

import re
from itertools import islice

from gengap.core.lenient_json import MAX_ANSWER_CHARS, MAX_READS, find_key_values, find_object
from gengap.gp.cards import rank_of

__all__ = ["MAX_ANSWER_CHARS", "Answer", "parse_answer"]
MAX_LIST_ITEMS = 16
FAST_PATH_CHARS = 1024
"""Answers up to this long that are one flat JSON object are read by one regular expression (the RL hot loop)."""

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
            self._raw = {} if self._text is None else _fields(self._text)[0]
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
            self._cards = None if value is None else tuple(map(rank_of, _as_list(value)))
        return self._cards  # type: ignore[return-value]

    @property
    def numbers(self) -> tuple[int | None, ...] | None:
        """The ``number`` field as ints (``None`` items: not an integer); ``None`` if absent."""
        if self._numbers is _UNSET:
            value = self.raw.get("numbers")
            self._numbers = None if value is None else tuple(map(_as_int, _as_list(value)))
        return self._numbers  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Answer(formula={self.formula!r}, cards={self.cards!r}, numbers={self.numbers!r}, error={self.error!r})"


_UNSET = object()


def _as_list(value: object) -> list[object]:
    """The first :data:`MAX_LIST_ITEMS` items of a list field (a list, or a string of words and numbers)."""
    if isinstance(value, list | tuple):
        return list(value[:MAX_LIST_ITEMS])
    if isinstance(value, str):
        return [m.group() for m in islice(_LIST_ITEM.finditer(value), MAX_LIST_ITEMS)]
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


# The fast path: the whole answer is one flat JSON object (strings without escapes, numbers, true/false/null,
# flat lists of those) with exactly one formula-like key, followed by a plain string. One possessive pattern
# checks all of it in a single linear pass; anything else goes through the full reader.
_STR = r'"[^"\\]*+"'
_SCALAR = rf"(?:{_STR}|-?+[0-9]++(?:\.[0-9]++)?+|true|false|null)"
_VALUE = rf"(?:{_SCALAR}|\[\s*+(?:{_SCALAR}\s*+(?:,\s*+{_SCALAR}\s*+)*+)?+\])"
_NAMES = r"(?i:formula|equation|expression)"
_OTHER = rf'"(?!\s*+{_NAMES}\s*+")[^"\\]*+"\s*+:\s*+{_VALUE}\s*+'
_FAST = re.compile(
    rf'\{{\s*+(?:{_OTHER},\s*+)*+"\s*+{_NAMES}\s*+"\s*+:\s*+"([^"\\]*+)"\s*+(?:,\s*+{_OTHER})*+\}}', re.ASCII
)
_TOO_MANY = "the answer gives more than one formula ({}); give exactly one"


def _fields(text: str) -> tuple[dict[str, object], str | None]:
    """Every field we know, under our names, from a JSON-like object or ``key: value`` lines, and an error
    when the formula is given more than once with different values (the first value is kept in the fields).
    """
    fields: dict[str, object] = {}
    formulas: list[object] = []
    obj = find_object(text)
    if obj is not None:
        for key, value in islice(obj.pairs, MAX_READS):
            name = _KEYS.get(str(key).strip().lower())
            if name == "formula":
                formulas.append(value)
            if name and name not in fields:
                fields[name] = value
    if not formulas:
        for key, value in find_key_values(text, _KEY_SET):
            name = _KEYS[key]
            if name == "formula":
                formulas.append(value)
            fields.setdefault(name, value)
    return fields, _conflict(formulas)


def _conflict(formulas: list[object]) -> str | None:
    """The error for formulas given with different values (spaces do not count), or ``None``."""
    if len(formulas) < 2:
        return None
    distinct = dict.fromkeys("".join(str(f).split()) for f in formulas)
    if len(distinct) < 2:
        return None
    shown = ", ".join(repr(f[:40]) for f in islice(distinct, 3))
    return _TOO_MANY.format(shown + (", …" if len(distinct) > 3 else ""))


def parse_answer(text: object) -> Answer:
    """Read an answer; never raises, whatever ``text`` is."""
    if not isinstance(text, str):
        return Answer(error="the answer is not text")
    if len(text) > MAX_ANSWER_CHARS:
        return Answer(error=f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    if text[:1] == "{" and text[-1:] == "}" and len(text) <= FAST_PATH_CHARS:
        # Fast path for the requested format (the common case once a model has learnt it): one plain
        # formula string field. The rest of the object is read only if someone asks for it.
        fast = _FAST.fullmatch(text)
        if fast is not None:
            return Answer(fast.group(1), text=text)
    fields, conflict = _fields(text)
    if not fields:
        return Answer(error="no answer in the requested format was found (give 'formula' as JSON or 'formula: …')")
    answer = Answer(raw=fields)
    formula = fields.get("formula")
    if conflict is not None:
        answer.error = conflict
    elif formula is None:
        answer.error = "the answer has no 'formula' field"
    elif isinstance(formula, str | int) and not isinstance(formula, bool):
        answer.formula = str(formula)
    else:
        answer.error = "the 'formula' field is not a string"
    return answer
