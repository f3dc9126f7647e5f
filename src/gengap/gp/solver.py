"""Exact solver: which hands can make the target, and every way to do it, in rational arithmetic.

Floating point cannot tell ``8/(3-8/3)`` from a near miss, so values here are :class:`fractions.Fraction`.
Solvability uses the meet-in-the-middle idea: the last operation joins a value ``a`` reachable from one part of
the hand with a value ``b`` from the rest, and for a given ``a`` only six ``b`` can give the target. Reachable
sets of sub-hands are cached, so the table of all 1,820 four-card rank multisets takes well under a second.

Solutions are returned in a canonical form: sums and products are flattened and their terms sorted, so
``(a+b)+c``, ``c+(b+a)`` and ``a-(-b-c)``-style rearrangements collapse into one string.

The search grows steeply with the hand (a 6-card hand's reachable values alone take most of a second, 7 cards
more than the memory of a laptop), so every entry point refuses hands of more than :data:`MAX_CARDS` cards
with a one-line :class:`ValueError` before searching (:func:`check_hand_size`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from functools import cache, lru_cache
from itertools import combinations, combinations_with_replacement

from gengap.gp.cards import RANKS
from gengap.gp.rules import Rule

Values = tuple[int, ...]

MAX_CARDS = 5
"""The largest hand the solver accepts: every solution of a 5-card hand takes well under a second."""


def check_hand_size(n_cards: int) -> None:
    """Raise a one-line :class:`ValueError` for a hand the solver cannot solve quickly (or an empty one)."""
    if not 1 <= n_cards <= MAX_CARDS:
        raise ValueError(
            f"a hand of {n_cards} cards cannot be solved quickly; the solver accepts 1 to {MAX_CARDS} cards"
        )


def _splits(values: Values) -> Iterator[tuple[Values, Values]]:
    """Unordered splits of a sorted multiset into two non-empty sorted parts, each split once."""
    n = len(values)
    seen: set[tuple[Values, Values]] = set()
    for size in range(1, n // 2 + 1):
        for idx in combinations(range(n), size):
            left = tuple(values[i] for i in idx)
            right = tuple(values[i] for i in range(n) if i not in idx)
            key = (left, right) if left <= right else (right, left)
            if key not in seen:
                seen.add(key)
                yield key


@cache
def reachable(values: Values) -> frozenset[Fraction]:
    """Every value a formula using each number of the sorted multiset exactly once can take."""
    if len(values) == 1:
        return frozenset((Fraction(values[0]),))
    out: set[Fraction] = set()
    for left, right in _splits(values):
        rb = reachable(right)
        for a in reachable(left):
            for b in rb:
                out.add(a + b)
                out.add(a - b)
                out.add(b - a)
                out.add(a * b)
                if b:
                    out.add(a / b)
                if a:
                    out.add(b / a)
    return frozenset(out)


def _partners(x: Fraction, target: Fraction) -> Iterator[Fraction]:
    """The values y such that one operation on x and y gives the target."""
    yield target - x  # x + y
    yield x - target  # x - y
    yield x + target  # y - x
    if x:
        yield target / x  # x * y
        yield target * x  # y / x
        if target:
            yield x / target  # x / y, with y != 0 because x != 0


@cache
def _is_solvable(values: Values, target: int) -> bool:
    t = Fraction(target)
    if len(values) == 1:
        return values[0] == target
    for left, right in _splits(values):
        ra, rb = reachable(left), reachable(right)
        if len(ra) > len(rb):
            ra, rb = rb, ra
        for x in ra:
            if target == 0 and x == 0:
                return True  # 0 * anything
            if any(y in rb for y in _partners(x, t)):
                return True
    return False


def is_solvable(values: Iterable[int], target: int = 24) -> bool:
    """Whether some formula uses each value exactly once and equals ``target``."""
    hand = tuple(sorted(values))
    check_hand_size(len(hand))
    return _is_solvable(hand, target)


def solvable_rank_multisets(rule: Rule, target: int = 24, n_cards: int = 4) -> frozenset[tuple[str, ...]]:
    """The table of solvable hands: every multiset of ``n_cards`` ranks (as sorted rank tuples) under a rule."""
    check_hand_size(n_cards)
    return _solvable_table(rule.values, target, n_cards)


@lru_cache(maxsize=64)
def _solvable_table(rule_values: Values, target: int, n_cards: int) -> frozenset[tuple[str, ...]]:
    out = []
    for idx in combinations_with_replacement(range(13), n_cards):
        if _is_solvable(tuple(sorted(rule_values[i] for i in idx)), target):
            out.append(tuple(RANKS[i] for i in idx))
    return frozenset(out)


# --- canonical expressions -------------------------------------------------------------------------------


class _Expr:
    """A formula in flattened form: a number, a sum (terms added / subtracted) or a product (multiplied / divided)."""

    __slots__ = ("kind", "neg", "pos", "text")

    def __init__(self, kind: str, pos: tuple[_Expr, ...] = (), neg: tuple[_Expr, ...] = (), text: str = ""):
        self.kind = kind
        self.pos = tuple(sorted(pos, key=_key))
        self.neg = tuple(sorted(neg, key=_key))
        if kind == "num":
            self.text = text
        elif kind == "sum":
            self.text = "+".join(t.text for t in self.pos) + "".join("-" + t.text for t in self.neg)
        else:
            self.text = "*".join(_factor(t) for t in self.pos) + "".join("/" + _factor(t) for t in self.neg)


def _key(e: _Expr) -> tuple[int, str]:
    return (0 if e.kind == "num" else 1, e.text)


def _factor(e: _Expr) -> str:
    return f"({e.text})" if e.kind == "sum" else e.text


def _pos(e: _Expr, kind: str) -> tuple[_Expr, ...]:
    return e.pos if e.kind == kind else (e,)


def _neg(e: _Expr, kind: str) -> tuple[_Expr, ...]:
    return e.neg if e.kind == kind else ()


def _combine(a: _Expr, b: _Expr, op: str) -> _Expr:
    if op == "+":
        return _Expr("sum", _pos(a, "sum") + _pos(b, "sum"), _neg(a, "sum") + _neg(b, "sum"))
    if op == "-":
        return _Expr("sum", _pos(a, "sum") + _neg(b, "sum"), _neg(a, "sum") + _pos(b, "sum"))
    if op == "*":
        return _Expr("prod", _pos(a, "prod") + _pos(b, "prod"), _neg(a, "prod") + _neg(b, "prod"))
    return _Expr("prod", _pos(a, "prod") + _neg(b, "prod"), _neg(a, "prod") + _pos(b, "prod"))


_OPS = (("+", False), ("-", False), ("-", True), ("*", False), ("/", False), ("/", True))
"""Each operation and orientation: ``swap`` means ``b op a``."""


@lru_cache(maxsize=1 << 15)
def _expressions_of(values: Values, value: Fraction) -> tuple[_Expr, ...]:
    """Every canonical expression over the sorted multiset that equals ``value``.

    Top-down: for each split, only the values of one part that can reach ``value`` with some value of the
    other part are expanded, so a 5-card hand costs milliseconds where listing every expression of every
    sub-hand cost a second.
    """
    if len(values) == 1:
        return (_Expr("num", text=str(values[0])),) if values[0] == value else ()
    found: dict[str, _Expr] = {}
    for left, right in _splits(values):
        ra, rb = reachable(left), reachable(right)
        if len(ra) > len(rb):  # walk the smaller set; the operations below cover both orders
            left, right, ra, rb = right, left, rb, ra
        for a in ra:
            partners = set(_partners(a, value))
            if a == 0 and value == 0:
                partners |= rb  # 0 * y and 0 / y are 0 for every y
            for b in partners:
                if b not in rb:
                    continue
                for op, swap in _OPS:
                    x, y = (b, a) if swap else (a, b)
                    if (op == "/" and y == 0) or _apply(x, y, op) != value:
                        continue
                    for ex in _expressions_of(left, a):
                        for ey in _expressions_of(right, b):
                            e = _combine(ey, ex, op) if swap else _combine(ex, ey, op)
                            found.setdefault(e.text, e)
    return tuple(found.values())


@lru_cache(maxsize=8192)
def _solve(values: Values, target: int) -> tuple[str, ...]:
    if not _is_solvable(values, target):
        return ()
    found = {e.text for e in _expressions_of(values, Fraction(target))}
    return tuple(sorted(found, key=lambda s: (len(s), s)))


def _apply(x: Fraction, y: Fraction, op: str) -> Fraction:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return x / y


def solve(values: Iterable[int], target: int = 24) -> tuple[str, ...]:
    """Every solution in canonical form (shortest first); empty when the hand cannot make the target."""
    hand = tuple(sorted(values))
    check_hand_size(len(hand))
    return _solve(hand, target)
