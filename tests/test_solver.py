from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from gengap.gp.formula import evaluate
from gengap.gp.rules import OOD_RULE, TRAIN_RULE, Rule
from gengap.gp.solver import is_solvable, solvable_rank_multisets, solve


def brute_force(values: tuple[int, ...], target: int) -> bool:
    """An independent, slow solver: every way of repeatedly combining two numbers of the list."""

    def rec(nums: list[Fraction]) -> bool:
        if len(nums) == 1:
            return nums[0] == target
        for i, j in itertools.permutations(range(len(nums)), 2):
            a, b = nums[i], nums[j]
            rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
            outs = [a + b, a - b, a * b] + ([a / b] if b else [])
            if any(rec([*rest, v]) for v in outs):
                return True
        return False

    return rec([Fraction(v) for v in values])


def test_known_counts_of_solvable_hands() -> None:
    # Widely tabulated facts of the 24 game: 1,362 of the 1,820 multisets of 1..13 are solvable,
    # and 566 of the 715 multisets of 1..10.
    assert len(solvable_rank_multisets(OOD_RULE)) == 1362
    tens = [c for c in itertools.combinations_with_replacement(range(1, 11), 4) if is_solvable(c)]
    assert len(tens) == 566


def test_training_rule_table_matches_value_solvability() -> None:
    table = solvable_rank_multisets(TRAIN_RULE)
    assert ("3", "3", "8", "8") in table
    assert ("A", "A", "A", "A") not in table
    for ranks in itertools.islice(sorted(table), 0, None, 97):
        assert is_solvable(TRAIN_RULE.hand_values(ranks))


def test_fraction_only_hand() -> None:
    assert is_solvable([3, 3, 8, 8])
    assert solve([3, 3, 8, 8]) == ("8/(3-8/3)",)
    assert solve([1, 1, 1, 1]) == ()


def test_every_solution_is_correct_and_uses_each_value_once() -> None:
    for values in ([1, 2, 3, 4], [10, 10, 4, 4], [1, 5, 5, 5], [11, 12, 13, 1], [2, 3, 4, 5, 6]):
        sols = solve(values)
        assert sols, values
        assert len(set(sols)) == len(sols)
        for s in sols:
            ev = evaluate(s)
            assert ev.equals(24), s
            assert sorted(ev.numbers) == sorted(values), s


def test_other_targets_and_rules() -> None:
    assert solve([5, 5, 5, 5], target=30) and evaluate(solve([5, 5, 5, 5], 30)[0]).equals(30)
    big = Rule.scaled(10)
    assert big.value("K") == 100 and big.value("A") == 10
    assert is_solvable([10, 20, 30, 40], 240)  # (10+20+30)*40/10 ...


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 13), min_size=1, max_size=4), st.integers(0, 30))
def test_is_solvable_agrees_with_brute_force(values: list[int], target: int) -> None:
    assert is_solvable(values, target) == brute_force(tuple(values), target)


def test_target_zero_solutions() -> None:
    assert is_solvable([2, 2, 4, 9], 0)
    sols = solve([2, 2, 4, 9], 0)
    assert sols and all(evaluate(s).equals(0) for s in sols)
