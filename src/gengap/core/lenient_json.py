"""Read the JSON-like objects that language models write, without ``eval`` and within fixed bounds.

Models wrap their answer in prose or a code fence, use single quotes, leave trailing commas, or forget to
quote keys. :func:`find_object` returns the first object-like value it can read from a text, trying strict
JSON first (fast, in C) and then a small tolerant parser of our own. Both GeneralPoints and V-IRL answers
go through it, so every game is equally forgiving about form and equally strict about content.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 8
MAX_STARTS = 64
"""Opening braces tried before giving up: bounds the work on hostile text (each try is linear)."""
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_\- ]*")
# A number only when it is the whole value: ``3*8`` must be read as a bare formula, not as 3.
_NUMBER = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?(?=[ \t]*(?:[,}\]\n]|$))")  # longer digit runs stay text


class _Syntax(ValueError):
    pass


class _Reader:
    """A recursive-descent reader for JSON with single quotes, bare keys and trailing commas."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Syntax("nested too deep")
        ch = self.peek()
        if ch == "{":
            return self.obj(depth + 1)
        if ch == "[":
            return self.array(depth + 1)
        if ch in "\"'":
            return self.string(ch)
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            tok = m.group()
            return float(tok) if "." in tok else int(tok)
        return self.bare()

    def bare(self) -> str:
        """An unquoted word or formula, up to the next delimiter: ``formula: 3*8`` or ``cards: [J, 3]``."""
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in ",}]\n":
            self.pos += 1
        word = text[start : self.pos].strip()
        if not word:
            raise _Syntax("expected a value")
        if word in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[word]  # type: ignore[return-value]
        return word

    def string(self, quote: str) -> str:
        text = self.text
        self.pos += 1
        out = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text):
                nxt = text[self.pos + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise _Syntax("unterminated string")

    def key(self) -> str:
        ch = self.peek()
        if ch in "\"'":
            return self.string(ch)
        m = _BARE.match(self.text, self.pos)
        if not m:
            raise _Syntax("expected a key")
        self.pos = m.end()
        return m.group().strip()

    def obj(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            ch = self.peek()
            if ch == "}":
                self.pos += 1
                return out
            if not ch:
                raise _Syntax("unterminated object")
            key = self.key()
            if self.peek() not in ":=":
                raise _Syntax("expected ':' after a key")
            self.pos += 1
            out[key] = self.value(depth)
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


def find_object(text: str) -> dict[str, Any] | None:
    """The first JSON-like object in ``text`` (strict JSON, in a code fence or loose), or ``None``."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            pass
        else:
            if isinstance(data, dict):
                return data
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    tries = 0
    for chunk in candidates:
        start = chunk.find("{")
        while start != -1 and tries < MAX_STARTS:
            tries += 1
            try:
                data = _Reader(chunk, start).obj(1)
            except (_Syntax, RecursionError, ValueError):
                start = chunk.find("{", start + 1)
                continue
            return data
    return None


_LINE = re.compile(r"^[ \t]*[\"'*]*([A-Za-z_][A-Za-z_ ]{0,30}?)[\"'*]*[ \t]*[:=][ \t]*(.*?)[ \t]*$", re.MULTILINE)


def find_key_lines(text: str, keys: frozenset[str]) -> dict[str, str]:
    """``key: value`` lines (the compact answer style), for the given lower-case keys; first one wins."""
    out: dict[str, str] = {}
    for m in _LINE.finditer(text):
        key = m.group(1).strip().lower()
        if key in keys and key not in out:
            out[key] = m.group(2).strip().rstrip(",").strip("\"'`")
    return out
