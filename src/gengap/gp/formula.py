"""A bounded parser and exact evaluator for the formulas models write — never Python ``eval``.

Grammar: integers (ASCII digits), ``+ - * /`` and parentheses, with ``×``/``÷`` read as ``*``/``/``.
Unary minus and implicit multiplication are rejected. Anything from ``=`` on is ignored (models write
``10*3-10+4=24``). Input length, parenthesis depth, token count and number size are bounded, so any input
returns in microseconds and no input can allocate a huge integer.

Speed matters (RL scores hundreds of thousands of answers), so parsing is split in two. A formula's *shape* —
its text with every number replaced by ``#`` — is parsed once into a small tree of closures and cached; each
answer then only pulls out its numbers and runs the cached tree. Values are unreduced ``(num, den)`` int
pairs: the verifier only compares with the target, and skipping :class:`fractions.Fraction`'s gcd is faster.
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

_NUMBER = re.compile(r"([0-9]+)")
_TOKEN = re.compile(r"#|[-+*/()]|\S")
_ALIASES = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "∗": "*", "⋅": "*", "·": "*"})
_NUMBER_LIMIT = 10**MAX_DIGITS
_SMALL = {str(i): i for i in range(1000)}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}

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

    def equals(self, target: int) -> bool:
        return self.num == target * self.den

    @property
    def value(self) -> Fraction:
        return Fraction(self.num, self.den)


def _leaf(i: int) -> Node:
    return lambda v: (v[i], 1)


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


@lru_cache(maxsize=1 << 16)
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
                nodes.append(_leaf(n_numbers))
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


def evaluate(formula: str) -> Evaluation:
    """Parse and evaluate a formula exactly; raise :class:`FormulaError` with a reason when it is illegal."""
    head = formula.partition("=")[0]  # models write "…=24" and sometimes explain after it: only the head counts
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
    tree = _compile("#".join(parts[::2]))
    if isinstance(tree, str):
        raise FormulaError(tree)
    try:
        num, den = tree(numbers)
    except ZeroDivisionError:
        raise FormulaError("it divides by zero") from None
    return Evaluation(num, den, numbers)
