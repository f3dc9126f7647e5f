"""A bounded parser and exact evaluator for the formulas models write — never Python ``eval``.

Grammar: integers (ASCII digits), ``+ - * /`` and parentheses, with ``×``/``÷`` read as ``*``/``/``.
Unary minus and implicit multiplication are rejected. The formula is the part before the first ``=`` (models
write ``10*3-10+4=24``); when the text after the last ``=`` starts with a number, that number is the answer's
*claimed* result (:attr:`Evaluation.claim`), which the verifier holds against the exact value, so
``8/(3-8/3)=25`` is not a correct answer; other text after ``=`` is ignored. Input length, parenthesis depth,
token count and number size are bounded, so any input returns in microseconds and no input can allocate a
huge integer.

Speed matters (RL scores hundreds of thousands of answers), so parsing is split in two. A formula's *shape* —
its text with every number replaced by ``#`` — is parsed once into a small tree of closures and cached; each
answer then only pulls out its numbers and runs the cached tree. Values are unreduced ``(num, den)`` int
pairs: the verifier only compares with the target, and skipping :class:`fractions.Fraction`'s gcd is faster.
The shape cache holds :data:`SHAPE_CACHE_SIZE` shapes (whitespace removed): a tree costs a few KB, and a model
under training writes an unbounded variety of shapes, so an unbounded cache would grow without limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

MAX_FORMULA_CHARS = 200
MAX_DEPTH = 16
MAX_TOKENS = 64
MAX_DIGITS = 6
MAX_CLAIM_DIGITS = 40
"""Digits read from a claimed result after ``=``; a longer number cannot be a formula's value here."""
SHAPE_CACHE_SIZE = 4096

_NUMBER = re.compile(r"([0-9]+)")
_TOKEN = re.compile(r"#|[-+*/()]|\S")
_ALIASES = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "∗": "*", "⋅": "*", "·": "*"})
_NUMBER_LIMIT = 10**MAX_DIGITS
_SMALL = {str(i): i for i in range(1000)}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}
_CLAIM = re.compile(r"[ \t]*+([+-]?+)([0-9]++)(?:\.([0-9]++))?+(?:[ \t]*+/[ \t]*+([0-9]++))?+")

Pair = tuple[int, int]
Node = Callable[[Sequence[int]], Pair]


class FormulaError(ValueError):
    """The formula is not a legal one; the message says why in words a model can act on."""


@dataclass(slots=True)
class Evaluation:
    """A legal formula's exact value (as an unreduced fraction) and the numbers it used, in order."""

    num: int
    den: int
    numbers: tuple[int, ...]
    claim: tuple[int, int] | None = None
    """The result written after the last ``=`` as ``(num, den)``, when that text starts with a number;
    ``(0, 0)`` for a number too long to be any formula's value (it never holds)."""
    claim_text: str = ""
    """That number as written (for feedback), empty without a claim."""

    def equals(self, target: int) -> bool:
        return self.num == target * self.den

    @property
    def claim_holds(self) -> bool:
        """No claimed result, or one equal to the exact value."""
        claim = self.claim
        return claim is None or (claim[1] != 0 and claim[0] * self.den == self.num * claim[1])

    @property
    def value(self) -> Fraction:
        return Fraction(self.num, self.den)


def _leaf(i: int) -> Node:
    return lambda v: (v[i], 1)


_LEAVES = tuple(_leaf(i) for i in range(MAX_TOKENS))  # shared by every cached tree


def _node(op: str, left: Node, right: Node) -> Node:
    if op == "+":

        def add(v: Sequence[int]) -> Pair:
            an, ad = left(v)
            bn, bd = right(v)
            return an * bd + bn * ad, ad * bd

        return add
    if op == "-":

        def sub(v: Sequence[int]) -> Pair:
            an, ad = left(v)
            bn, bd = right(v)
            return an * bd - bn * ad, ad * bd

        return sub
    if op == "*":

        def mul(v: Sequence[int]) -> Pair:
            an, ad = left(v)
            bn, bd = right(v)
            return an * bn, ad * bd

        return mul

    def div(v: Sequence[int]) -> Pair:
        an, ad = left(v)
        bn, bd = right(v)
        if bn == 0:
            raise ZeroDivisionError
        return an * bd, ad * bn

    return div


def _reduce(nodes: list[Node], op: str) -> None:
    right = nodes.pop()
    nodes.append(_node(op, nodes.pop(), right))


@lru_cache(maxsize=SHAPE_CACHE_SIZE)
def _compile(shape: str) -> Node | str:
    """Parse a shape such as ``#/(#-#/#)`` into an evaluator, or return the reason it is illegal."""
    tokens = _TOKEN.findall(shape)
    if not tokens:
        return "the formula is empty"
    if len(tokens) > MAX_TOKENS:
        return f"the formula has more than {MAX_TOKENS} symbols"
    nodes: list[Node] = []
    ops: list[str] = []
    depth = 0
    n_numbers = 0
    expect_operand = True
    for tok in tokens:
        if expect_operand:
            if tok == "#":
                nodes.append(_LEAVES[n_numbers])
                n_numbers += 1
                expect_operand = False
            elif tok == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    return f"the parentheses are nested more than {MAX_DEPTH} deep"
                ops.append(tok)
            elif tok in "+-":
                return f"'{tok}' has no number before it (signs on numbers are not allowed)"
            elif tok in "*/)":
                return f"'{tok}' has no number before it"
            else:
                return f"the character {tok!r} is not allowed (use numbers, + - * / and parentheses)"
        elif tok in _PREC:
            prec = _PREC[tok]
            while ops and ops[-1] != "(" and _PREC[ops[-1]] >= prec:
                _reduce(nodes, ops.pop())
            ops.append(tok)
            expect_operand = True
        elif tok == ")":
            while ops and ops[-1] != "(":
                _reduce(nodes, ops.pop())
            if not ops:
                return "a ')' has no matching '('"
            ops.pop()
            depth -= 1
        elif tok in ("#", "("):
            return "two numbers or groups stand side by side without an operator between them"
        else:
            return f"the character {tok!r} is not allowed (use numbers, + - * / and parentheses)"
    if expect_operand:
        return "the formula ends with an operator"
    while ops:
        op = ops.pop()
        if op == "(":
            return "a '(' is never closed"
        _reduce(nodes, op)
    return nodes[0]


def _claim(tail: str) -> tuple[tuple[int, int] | None, str]:
    """The claimed result in the text after the last ``=`` (see :attr:`Evaluation.claim`) and its text."""
    m = _CLAIM.match(tail)
    if m is None:
        return None, ""
    sign, whole, frac, den = m.groups()
    text = m.group().strip()
    if len(whole) + len(frac or "") + len(den or "") > MAX_CLAIM_DIGITS:
        return (0, 0), text
    num = int(whole + (frac or "")) * (-1 if sign == "-" else 1)
    return (num, 10 ** len(frac or "") * (int(den) if den is not None else 1)), text


def evaluate(formula: str) -> Evaluation:
    """Parse and evaluate a formula exactly; raise :class:`FormulaError` with a reason when it is illegal."""
    head, eq, tail = formula.partition("=")  # models write "…=24" and sometimes explain after it
    if len(head) > MAX_FORMULA_CHARS:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA_CHARS} characters")
    if not head.isascii():
        head = head.translate(_ALIASES)
    if "#" in head:
        raise FormulaError("the character '#' is not allowed (use numbers, + - * / and parentheses)")
    parts = _NUMBER.split(head)  # text, number, text, number, …, text
    try:
        numbers = tuple(map(_SMALL.__getitem__, parts[1::2]))  # a dict lookup is 3x faster than int()
    except KeyError:
        numbers = tuple(map(int, parts[1::2]))
        if max(numbers) >= _NUMBER_LIMIT:
            raise FormulaError(f"a number has more than {MAX_DIGITS} digits") from None
    shape = "#".join(parts[::2])
    if " " in shape or not shape.isprintable():
        shape = "".join(shape.split())  # one cache entry per shape, however it is spaced
    tree = _compile(shape)
    if isinstance(tree, str):
        raise FormulaError(tree)
    try:
        num, den = tree(numbers)
    except ZeroDivisionError:
        raise FormulaError("it divides by zero") from None
    if not eq:
        return Evaluation(num, den, numbers)
    small = _SMALL.get(tail)
    if small is not None:  # the common "…=24"
        return Evaluation(num, den, numbers, (small, 1), tail)
    claim, text = _claim(tail.rpartition("=")[2])
    return Evaluation(num, den, numbers, claim, text)
