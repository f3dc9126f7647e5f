"""Hostile answers and hands: bounded time and memory, documented verdicts, refused hands (issue 13).

The fuzz tests are seeded (``derandomize``) and small; the long fuzz and the absolute timings live in
``benchmarks/bench_gp.py`` and ``bench_virl.py``. Linear time is checked by a ratio (an answer padded 8 times
more must cost under 16 times more; the quadratic parser of before cost ~40-64 times more), never by an
absolute time, so a busy machine cannot fail it.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable
from fractions import Fraction

import gymnasium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gengap  # noqa: F401  (registers the environments)
import gengap.gp.game as gp_game
from gengap.cli import main
from gengap.core.lenient_json import MAX_ANSWER_CHARS, clip_answer, find_object
from gengap.gp import formula as gp_formula
from gengap.gp.answer import parse_answer
from gengap.gp.game import GeneralPoints, Solutions
from gengap.gp.metrics import summarise
from gengap.gp.solver import MAX_CARDS, is_solvable, solvable_rank_multisets, solve
from gengap.gp.splits import TRAIN_RULE
from gengap.gp.verifier import Outcome, Rewards, verify
from gengap.virl import answer as virl_answer
from gengap.virl import verifier as virl_verifier

HAND = (3, 3, 8, 8)
ALLOWED = ("forward()", "stop()", "turn_direction(north)", "turn_direction(east)")
FUZZ = settings(max_examples=250, derandomize=True, deadline=None)


# --- an independent oracle: Python's own parser (no evaluation) and exact fractions ------------------------


def oracle(formula: str) -> tuple[Fraction, list[int]] | None:
    """The exact value and numbers of a formula, by walking :func:`ast.parse`'s tree; ``None`` if illegal."""
    head = formula.partition("=")[0].translate(str.maketrans({"×": "*", "÷": "/", "−": "-"}))
    try:
        tree = ast.parse(" ".join(head.split()), mode="eval")  # any unicode space is a space
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    numbers: list[int] = []

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b  # ZeroDivisionError: illegal
        if isinstance(node, ast.Constant) and type(node.value) is int:
            numbers.append(node.value)
            return Fraction(node.value)
        raise ValueError("not part of the grammar")

    try:
        return walk(tree.body), numbers
    except (ValueError, ZeroDivisionError, RecursionError):
        return None


def formulas(numbers: list[int]) -> st.SearchStrategy[str]:
    """Formulas over some of the hand's numbers (and others), with random operators and parentheses."""
    leaf = st.sampled_from([*map(str, numbers), "1", "2", "24", "0"])
    return st.recursive(
        leaf,
        lambda inner: st.tuples(inner, st.sampled_from("+-*/"), inner, st.booleans()).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})" if t[3] else f"{t[0]}{t[1]}{t[2]}"
        ),
        max_leaves=6,
    )


WRAPPERS: list[Callable[[str], str]] = [
    lambda f: json.dumps({"cards": ["3", "3", "8", "8"], "number": [3, 3, 8, 8], "formula": f}),
    lambda f: json.dumps({"formula": f + "=24"}),
    lambda f: f"formula: {f}",
    lambda f: f"thought: ok\nformula: {f}" + " " * 300 + "</s>",
    lambda f: f"Sure! ```json\n{{'formula': '{f}',}}\n```",
    lambda f: f"{{formula: {f}}}",
    lambda f: f"{{garbage 'formula': '{f}' garbage}}",
    lambda f: f"formula: {f}\nformula: {f}",
    lambda f: f"formula: {f}\nexpression: 1+1",
]


@FUZZ
@given(
    formula=formulas([3, 3, 8, 8]),
    wrap=st.sampled_from(range(len(WRAPPERS))),
    noise=st.text(max_size=40),
)
def test_fuzz_gp_verify_accepts_only_exact_solutions(formula: str, wrap: int, noise: str) -> None:
    for text in (WRAPPERS[wrap](formula), WRAPPERS[wrap](formula) + noise, noise + WRAPPERS[wrap](formula)):
        v = verify(text, HAND)
        assert verify(text, HAND).outcome is v.outcome and v.reward == Rewards().of(v.outcome)  # deterministic
        if v.outcome is Outcome.CORRECT:
            checked = oracle(v.answer.formula or "")
            assert checked is not None, text
            value, used = checked
            assert value == 24 and sorted(used) == sorted(HAND), text
            claim = (v.answer.formula or "").rpartition("=")[2].strip()
            assert "=" not in (v.answer.formula or "") or not claim[:1].isdigit() or Fraction(claim) == 24


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=50).map(lambda b: b.decode("latin-1")))
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    for t in (text, "{" + text, "formula: " + text, '{"formula": "' + text):
        v = verify(t, HAND)
        assert v.outcome is verify(t, HAND).outcome
        assert v.outcome is not Outcome.CORRECT or oracle(v.answer.formula or "") is not None
        w = virl_verifier.verify(t, "forward()", False, ALLOWED)
        assert w.outcome is virl_verifier.verify(t, "forward()", False, ALLOWED).outcome


# --- linear time ---------------------------------------------------------------------------------------------


def _cost(fn: Callable[[str], object], text: str, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(3):
            fn(text)
        best = min(best, time.perf_counter() - t0)
    return best


PADDED: dict[str, Callable[[int], str]] = {
    "key line then spaces": lambda n: "formula: 1" + " " * n + "x",
    "formula padded before </s>": lambda n: "thought: ok\nformula: (8-4)*6" + " " * n + "</s>",
    "open braces": lambda n: "{" * n,
    "bare keys with spaces": lambda n: "{a:" + "1" * 18 + " " * n + "x",
    "unterminated string": lambda n: "{'formula': '" + "a" * n,
    "many key lines": lambda n: "formula: 1\n" * (n // 11),
    "many entries": lambda n: "{" + ",".join(f"k{i}:1" for i in range(n // 7)),
    "fences": lambda n: "```json\n{a:1,\n```" * (n // 16),
    "claimed result": lambda n: "formula: 3*8=" + "9" * n,
    "virl action padded": lambda n: "observation: x\naction: turn_direction(a" + " " * n + "x)",
    "virl negations": lambda n: "observation: " + "no " * (n // 3) + "intersection\naction: forward()",
}


@pytest.mark.parametrize("name", sorted(PADDED))
def test_parsing_is_linear_in_the_padding(name: str) -> None:
    make = PADDED[name]
    small, large = make(900), make(7200)
    assert len(large) <= MAX_ANSWER_CHARS
    for fn in (lambda t: verify(t, HAND), lambda t: virl_verifier.verify(t, "forward()", False, ALLOWED)):
        ratio = _cost(fn, large) / _cost(fn, small)
        assert ratio < 16, f"{name}: 8x the padding costs {ratio:.1f}x the time (quadratic would be ~64x)"


def test_answers_over_the_maximum_are_an_outcome_of_their_own() -> None:
    long = '{"formula": "8/(3-8/3)"}' + " " * MAX_ANSWER_CHARS
    v = verify(long, HAND)
    assert v.outcome is Outcome.TOO_LONG and v.reward == -3.0 and str(MAX_ANSWER_CHARS) in v.feedback
    assert verify(long, HAND, rewards=Rewards(too_long=-7.0)).reward == -7.0
    assert verify(long[:MAX_ANSWER_CHARS], HAND).outcome is Outcome.CORRECT  # at the maximum: read
    w = virl_verifier.verify("action: forward()" + " " * MAX_ANSWER_CHARS, "forward()", False, ALLOWED)
    assert w.outcome is virl_verifier.Outcome.TOO_LONG and w.reward == virl_verifier.REWARDS.illegal
    assert gp_formula.MAX_FORMULA_CHARS < MAX_ANSWER_CHARS and virl_answer.MAX_ANSWER_CHARS == MAX_ANSWER_CHARS


def test_metrics_count_too_long() -> None:
    ep = GeneralPoints(verify_iter=2).episode(0)
    ep.step("x" * (MAX_ANSWER_CHARS + 1))
    ep.step("y" * (MAX_ANSWER_CHARS + 5))
    summary = summarise([ep.record()])
    assert summary["outcomes"]["too_long"] == 2 and summary["outcomes"]["illegal"] == 0
    assert summary["format_validity"]["hits"] == 0 and summary["format_validity"]["n"] == 2


# --- bounded memory ------------------------------------------------------------------------------------------


def test_shape_cache_is_bounded_and_ignores_spacing() -> None:
    assert gp_formula._compile.cache_info().maxsize == gp_formula.SHAPE_CACHE_SIZE <= 4096
    gp_formula._compile.cache_clear()
    for spaced in ("(8-4)*6", "( 8 - 4 ) * 6", "(8-4) *\t6"):
        assert gp_formula.evaluate(spaced).equals(24)
    assert gp_formula._compile.cache_info().currsize == 1


def test_the_chat_keeps_at_most_the_maximum_answer() -> None:
    env = gymnasium.make("gengap/GeneralPoints-L-v0")
    env.reset(seed=0)
    huge = "formula: 1+1" + "z" * 1_000_000
    obs, reward, _, _, info = env.step(huge)
    assert info["outcome"] == "too_long" and reward == -3.0
    kept = obs["messages"][1]["content"]
    assert len(kept) <= MAX_ANSWER_CHARS and "cut" in kept and kept.startswith("formula: 1+1")
    assert env.observation_space.contains(obs)
    assert clip_answer("short") == "short" and clip_answer(12) == "12"
    virl = gymnasium.make("gengap/VIRL-L-v0")
    virl.reset(seed=0)
    obs, *_ = virl.step(huge)
    assert all(len(m["content"]) <= MAX_ANSWER_CHARS for m in obs["messages"] if m["role"] == "assistant")


# --- verdict decisions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "outcome", "feedback"),
    [
        ('{"formula": "8/(3-8/3)=25"}', Outcome.WRONG_VALUE, "the formula equals 24, not 25 as written"),
        ("formula: 8/(3-8/3) = 24.0", Outcome.CORRECT, "the formula is correct"),
        ("formula: 8/(3-8/3)=24 (since 8/(1/3) is 24)", Outcome.CORRECT, "the formula is correct"),
        ("formula: 8/(3-8/3) = twenty-four", Outcome.CORRECT, "the formula is correct"),
        ("formula: 8/(3-8/3) = 48/2", Outcome.CORRECT, "the formula is correct"),
        ("formula: 8/(3-8/3) = " + "9" * 500, Outcome.WRONG_VALUE, "as written"),
        ("formula: 8/(3-8/3)=24=25", Outcome.WRONG_VALUE, "not 25 as written"),
        ("formula: 8+8+3+3=22", Outcome.WRONG_VALUE, "the formula equals 22, not 24"),
    ],
)
def test_a_claimed_result_after_equals_must_be_true(text: str, outcome: Outcome, feedback: str) -> None:
    v = verify(text, HAND)
    assert v.outcome is outcome and feedback in v.feedback


@pytest.mark.parametrize(
    "text",
    [
        '{garbage "formula": "(8-4)*6" garbage}',
        '{"formula": "(8-4)*6" garbage}',
        '{garbage, "formula": "(8-4)*6"}',
        "{garbage}",
    ],
)
def test_an_object_with_non_entries_is_not_read(text: str) -> None:
    v = verify(text, (4, 6, 8, 8))
    assert v.outcome is Outcome.ILLEGAL and "no answer in the requested format" in v.feedback
    assert find_object(text) is None
    w = virl_verifier.verify(
        text.replace("formula", "action").replace("(8-4)*6", "forward()"), "forward()", False, ALLOWED
    )
    assert w.outcome is virl_verifier.Outcome.ILLEGAL


def test_an_object_is_found_after_one_that_is_not() -> None:
    text = 'I tried {garbage} and {"formula": "8/(3-8/3)"}'
    assert verify(text, HAND).outcome is Outcome.CORRECT


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ('{"formula": "8/(3-8/3)", "formula": "1+1"}', Outcome.ILLEGAL),
        ('{"formula": "8/(3-8/3)", "Equation": "3*8"}', Outcome.ILLEGAL),
        ("{formula: 8/(3-8/3), expression: 1+1}", Outcome.ILLEGAL),
        ("formula: 8/(3-8/3)\nformula: 3+3+8+8", Outcome.ILLEGAL),
        ("formula: 8/(3-8/3)\nequation: 8 / (3 - 8/3)", Outcome.CORRECT),
        ('{"formula": "8/(3-8/3)", "formula": "8/(3-8/3)"}', Outcome.CORRECT),
        ('{"formula": "8/(3-8/3)", "thought": "formula: 1+1"}', Outcome.CORRECT),
    ],
)
def test_a_formula_given_twice_must_agree(text: str, outcome: Outcome) -> None:
    v = verify(text, HAND)
    assert v.outcome is outcome, v
    if outcome is Outcome.ILLEGAL:
        assert "more than one formula" in v.feedback
        assert "more than one formula" in (parse_answer(text).error or "")


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ('{"observation": "a street", "action": "forward()", "action": "stop()"}', virl_verifier.Outcome.ILLEGAL),
        ("observation: a street\naction: forward()\naction: stop()", virl_verifier.Outcome.ILLEGAL),
        ("observation: a street\naction: forward()\naction: Forward", virl_verifier.Outcome.CORRECT),
        ('{"observation": "a street", "action": "forward()"}', virl_verifier.Outcome.CORRECT),
    ],
)
def test_virl_an_action_given_twice_must_agree(text: str, outcome: virl_verifier.Outcome) -> None:
    v = virl_verifier.verify(text, "forward()", False, ALLOWED)
    assert v.outcome is outcome, v
    if outcome is virl_verifier.Outcome.ILLEGAL:
        assert "more than one action" in v.feedback


def test_negated_intersections_are_still_read_per_clause() -> None:
    claims = virl_answer.claims_intersection
    assert claims("I am at an intersection") and not claims("there is no intersection here")
    assert claims("no shops, but an intersection") and not claims("not a shop or an intersection")
    assert claims("nothing here; intersection ahead") and not claims("NOT AN INTERSECTION.")


# --- the solver refuses hands it cannot solve quickly -----------------------------------------------------------


def test_the_solver_refuses_large_hands_in_one_line() -> None:
    seven = ["3", "4", "5", "6", "7", "8", "9"]
    for call in (
        lambda: GeneralPoints().episode(0, cards=seven),
        lambda: solve(range(1, 8)),
        lambda: is_solvable(range(1, 7)),
        lambda: solvable_rank_multisets(TRAIN_RULE, n_cards=MAX_CARDS + 1),
        lambda: GeneralPoints().episode(0, cards=[]),
    ):
        with pytest.raises(ValueError, match=f"1 to {MAX_CARDS} cards") as err:
            call()
        assert "\n" not in str(err.value)
    env = gymnasium.make("gengap/GeneralPoints-L-v0")
    with pytest.raises(ValueError, match="cannot be solved quickly"):
        env.reset(seed=0, options={"cards": ["A"] * 20})
    assert env.reset(seed=0, options={"cards": ["3", "3", "8", "8"]})[1]["cards"] == ["3", "3", "8", "8"]


def test_the_cli_refuses_a_large_hand(tmp_path, capsys) -> None:
    code = main(["show", "--game", "gp", "--cards", "3,4,5,6,7,8,9", "--out", str(tmp_path / "h.png")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "\n" not in err and f"1 to {MAX_CARDS} cards" in err
    assert not (tmp_path / "h.png").exists()


# --- a step does not solve the hand ----------------------------------------------------------------------------


def test_step_does_not_solve_and_info_solutions_is_lazy(monkeypatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = gp_game.solve

    def counting(values, target=24):
        calls.append(tuple(values))
        return real(values, target)

    monkeypatch.setattr(gp_game, "solve", counting)
    env = gymnasium.make("gengap/GeneralPoints-L-v0", verify_iter=3)
    env.reset(seed=0, options={"cards": ["3", "3", "8", "8"]})
    _, _, _, _, info = env.step("formula: 1+1")
    _, _, _, _, info2 = env.step("formula: 3+3")
    assert calls == [] and isinstance(info["solutions"], Solutions) and not info["solutions"].solved
    assert info["solutions"] == ["8/(3-8/3)"] and list(info2["solutions"]) == ["8/(3-8/3)"]
    assert len(calls) == 1  # once per hand, however many steps and looks
