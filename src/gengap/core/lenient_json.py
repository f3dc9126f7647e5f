"""Read the JSON-like objects that language models write, without ``eval`` and in time linear in the text.

Models wrap their answer in prose or a code fence, use single quotes, leave trailing commas, or forget to
quote keys. :func:`find_object` returns the first object it can read from a text, trying strict JSON first
(fast, in C) and then a small tolerant reader of our own; :func:`find_key_values` reads compact ``key: value``
lines. Both GeneralPoints and V-IRL answers go through here, so every game is equally forgiving about form and
equally strict about content.

Answers are arbitrary text from a model under training, so every scan is linear in the text's length: the
regular expressions use possessive quantifiers (no backtracking over runs of spaces), whitespace and strings
are skipped by the regex engine rather than character by character in Python, and the tries at successive
opening braces share two budgets: characters scanned (:data:`WORK_FACTOR` times the text) and keys and values
read (:data:`MAX_READS`, which bounds the work done in Python). Nothing here is recursive beyond
:data:`MAX_DEPTH`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import islice
from typing import Any

MAX_ANSWER_CHARS = 8192
"""The longest answer any game reads (both games share it); a longer one is scored without being read."""
MAX_DEPTH = 8
MAX_STARTS = 32
"""Opening braces (and code fences) tried before giving up."""
WORK_FACTOR = 4
"""The tries at successive braces may scan this many times the text's length in all, then reading stops."""
MAX_READS = 64
"""Keys and values the tolerant reader reads from one text, all tries together (an answer has a handful);
callers also look at no more than this many entries of a strict JSON object."""
MAX_KEY_LINES = 64
"""``key: value`` lines read from one answer at most (more is not an answer but a flood)."""

_FENCE = re.compile(r"```(?:json|JSON)?+\s*+(.*?)```", re.DOTALL)
_WS = re.compile(r"[ \t\r\n]*+")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\- ]*+")
_BARE_VALUE = re.compile(r"[^,}\]\n]*+")
_STRINGS = {q: re.compile(rf"{q}([^{q}\\]*+(?:\\.[^{q}\\]*+)*+){q}", re.DOTALL) for q in "\"'"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t"}
# A number only when it is the whole value: ``3*8`` must be read as a bare formula, not as 3.
_NUMBER = re.compile(r"-?+[0-9]{1,18}+(?:\.[0-9]{1,18}+)?+(?=[ \t]*+(?:[,}\]\n]|$))")  # longer runs stay text
_WORDS = {"true": True, "false": False, "null": None}
_SPACES = " \t\r\n"


class JSONObject(dict):  # type: ignore[type-arg]
    """A read object (later keys win, as in JSON) that also keeps every entry in order, repeats included.

    Verifiers need the repeats: an answer that gives its formula twice with different values is ambiguous,
    and a plain ``dict`` would silently keep the last one.
    """

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


class _Syntax(ValueError):
    pass


class _Exhausted(_Syntax):
    """The reading budget is spent: stop trying further braces."""


class _Reader:
    """A recursive-descent reader for JSON with single quotes, bare keys and trailing commas.

    One reader serves every try on a text (move :attr:`pos` to the next brace), so :attr:`reads_left`
    counts the keys and values of all tries together.
    """

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos
        self.reads_left = MAX_READS

    def peek(self) -> str:
        ch = self.text[self.pos : self.pos + 1]
        if ch in _SPACES:  # also "" at the end, where the match is empty
            self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            ch = self.text[self.pos : self.pos + 1]
        return ch

    def spend(self) -> None:
        self.reads_left -= 1
        if self.reads_left < 0:
            raise _Exhausted("too many keys and values")

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Syntax("nested too deep")
        self.spend()
        ch = self.peek()
        if ch == "{":
            return self.obj(depth + 1)
        if ch == "[":
            return self.array(depth + 1)
        if ch and ch in "\"'":
            return self.string(ch)
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            tok = m.group()
            return float(tok) if "." in tok else int(tok)
        return self.bare()

    def bare(self) -> Any:
        """An unquoted word or formula, up to the next delimiter: ``formula: 3*8`` or ``cards: [J, 3]``."""
        m = _BARE_VALUE.match(self.text, self.pos)
        self.pos = m.end()  # type: ignore[union-attr]
        word = m.group().strip()  # type: ignore[union-attr]
        if not word:
            raise _Syntax("expected a value")
        return _WORDS.get(word, word) if word in _WORDS else word

    def string(self, quote: str) -> str:
        m = _STRINGS[quote].match(self.text, self.pos)
        if m is None:
            self.pos = len(self.text)  # the pattern looked at everything up to the end
            raise _Syntax("unterminated string")
        self.pos = m.end()
        body = m.group(1)
        return _ESCAPE.sub(_unescape, body) if "\\" in body else body

    def key(self) -> str:
        self.spend()
        ch = self.peek()
        if ch and ch in "\"'":
            return self.string(ch)
        m = _BARE_KEY.match(self.text, self.pos)
        if not m:
            raise _Syntax("expected a key")
        self.pos = m.end()
        return m.group().rstrip()

    def obj(self, depth: int) -> JSONObject:
        """An object whose every entry is ``key: value``; anything else between the braces fails the read."""
        self.pos += 1
        pairs: list[tuple[str, Any]] = []
        while True:
            ch = self.peek()
            if ch == "}":
                self.pos += 1
                return JSONObject(pairs)
            if not ch:
                raise _Syntax("unterminated object")
            key = self.key()
            if self.peek() not in (":", "="):
                raise _Syntax("expected ':' after a key")
            self.pos += 1
            pairs.append((key, self.value(depth)))
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != "}":
                if ch == "\n" or not ch:
                    raise _Syntax("unterminated object")
                raise _Syntax("expected ',' or '}'")

    def array(self, depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            ch = self.peek()
            if ch == "]":
                self.pos += 1
                return out
            if not ch:
                raise _Syntax("unterminated list")
            out.append(self.value(depth))
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != "]":
                raise _Syntax("expected ',' or ']'")


def _unescape(m: re.Match[str]) -> str:
    ch = m.group(1)
    return _ESCAPES.get(ch, ch)


def _strict(text: str) -> JSONObject | None:
    """The whole text as strict JSON (C speed), keeping repeated keys; ``None`` when it is not an object."""
    try:
        data = json.loads(text, object_pairs_hook=JSONObject)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, JSONObject) else None


def find_object(text: str) -> JSONObject | None:
    """The first JSON-like object in ``text`` (strict JSON, in a code fence or loose), or ``None``.

    An object is read only if everything between its braces is ``key: value`` entries; otherwise the next
    opening brace is tried, up to :data:`MAX_STARTS` braces and :data:`WORK_FACTOR` times the text's length.
    """
    stripped = text.strip()
    # Strict JSON first, unless the text has far more entries than an answer (then C-speed parsing of every
    # one of them would cost more than the budgeted tolerant read of the first MAX_READS).
    if stripped[:1] == "{" and stripped[-1:] == "}" and stripped.count(",") <= 4 * MAX_READS:
        data = _strict(stripped)
        if data is not None:
            return data
    chunks = [m.group(1) for m in islice(_FENCE.finditer(text), MAX_STARTS)]
    chunks.append(text)
    budget = WORK_FACTOR * len(text) + 256
    tries = 0
    reader = _Reader(text)
    for chunk in chunks:
        reader.text = chunk
        start = chunk.find("{")
        while start != -1 and tries < MAX_STARTS and budget > 0:
            tries += 1
            reader.pos = start
            try:
                return reader.obj(1)
            except _Exhausted:
                return None
            except (_Syntax, RecursionError, ValueError):
                budget -= reader.pos - start + 1
                start = chunk.find("{", start + 1)
    return None


@lru_cache(maxsize=32)
def _line_pattern(keys: frozenset[str]) -> re.Pattern[str]:
    """``key: value`` lines for these keys (any case); possessive, so a run of spaces is scanned once.

    The pattern starts with a literal newline (the text gets one in front) rather than a multi-line ``^``:
    the regex engine then jumps from newline to newline instead of trying the pattern at every character.
    """
    names = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(rf"\n[ \t]*+[\"'*]*+({names})[ \t]*+[\"'*]*+[ \t]*+[:=](.*)", re.IGNORECASE | re.ASCII)


def clip_answer(answer: object) -> str:
    """The answer as a chat keeps it: at most :data:`MAX_ANSWER_CHARS` characters, a longer one cut with a
    visible marker (an environment must not hold a megabyte per turn, nor show more than its spaces allow)."""
    text = answer if isinstance(answer, str) else str(answer)
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    marker = f" … [cut: the answer had {len(text):,} characters]"
    return text[: MAX_ANSWER_CHARS - len(marker)] + marker


def _clean(value: str) -> str:
    return value.strip().rstrip(",").strip("\"'`")


def find_key_values(text: str, keys: Iterable[str]) -> list[tuple[str, str]]:
    """Every ``key: value`` line for the given lower-case keys, in order, repeats included (at most
    :data:`MAX_KEY_LINES`): the compact answer style."""
    pattern = _line_pattern(frozenset(keys))
    matches = islice(pattern.finditer("\n" + text), MAX_KEY_LINES)
    return [(m.group(1).lower(), _clean(m.group(2))) for m in matches]


def find_key_lines(text: str, keys: frozenset[str]) -> dict[str, str]:
    """``key: value`` lines, for the given lower-case keys; the first one of each key wins."""
    out: dict[str, str] = {}
    for key, value in find_key_values(text, keys):
        out.setdefault(key, value)
    return out
