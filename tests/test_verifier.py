from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gengap.gp.answer import MAX_ANSWER_CHARS, parse_answer
from gengap.gp.formula import FormulaError, evaluate
from gengap.gp.verifier import REWARDS, Outcome, Rewards, verify

HAND = [3, 3, 8, 8]


def ans(formula: str, **extra: object) -> str:
    return json.dumps({**extra, "formula": formula})


def test_fraction_solution_scores_plus_five() -> None:
    v = verify(ans("8/(3-8/3)"), HAND)
    assert v.outcome is Outcome.CORRECT and v.reward == 5.0


@pytest.mark.parametrize(
    ("text", "outcome", "reward", "feedback"),
    [
        (ans("8/(3-8/3)=24"), Outcome.CORRECT, 5.0, "correct"),
        (ans("8+8+3+3"), Outcome.WRONG_VALUE, -1.0, "equals 22, not 24"),
        (ans("8*3-8"), Outcome.WRONG_NUMBERS, -2.0, "you did not use 3"),
        (ans("8*3*8/8"), Outcome.WRONG_NUMBERS, -2.0, "8 once too many"),
        (ans("7+8+3+3"), Outcome.WRONG_NUMBERS, -2.0, "7, which is not a card value"),
        (ans("8/(3-8/3"), Outcome.ILLEGAL, -3.0, "never closed"),
        (ans("-8+8*3+3-3"), Outcome.ILLEGAL, -3.0, "signs on numbers"),
        (ans("8/(3-3)*8+8"), Outcome.ILLEGAL, -3.0, "divides by zero"),
        (ans("8 8 3 3"), Outcome.ILLEGAL, -3.0, "side by side"),
        (ans("2**3"), Outcome.ILLEGAL, -3.0, "no number before"),
        (ans(""), Outcome.ILLEGAL, -3.0, "empty"),
        ("I think the answer is 24", Outcome.ILLEGAL, -3.0, "no answer in the requested format"),
        (json.dumps({"cards": ["3", "3", "8", "8"]}), Outcome.ILLEGAL, -3.0, "no 'formula' field"),
    ],
)
def test_outcomes_rewards_feedback(text: str, outcome: Outcome, reward: float, feedback: str) -> None:
    v = verify(text, HAND)
    assert v.outcome is outcome
    assert v.reward == reward
    assert feedback in v.feedback


def test_wrong_cards_only_checked_for_vision() -> None:
    wrong = ans("8/(3-8/3)", cards=["3", "3", "8", "9"])
    assert verify(wrong, HAND).outcome is Outcome.CORRECT
    v = verify(wrong, HAND, cards=["3", "3", "8", "8"])
    assert (v.outcome, v.reward, v.feedback) == (Outcome.WRONG_CARDS, -1.5, "you read the cards wrong")
    right = ans("8/(3-8/3)", cards=["8", 3, "3", "8"])  # any order, numbers or strings
    assert verify(right, HAND, cards=["3", "3", "8", "8"]).outcome is Outcome.CORRECT
    missing = ans("8/(3-8/3)")
    assert verify(missing, HAND, cards=["3", "3", "8", "8"]).outcome is Outcome.WRONG_CARDS


def test_quoted_face_cards_are_not_a_recognition_error() -> None:
    # The reference mis-scores valid JSON with quoted card names; we read "J", "Jack", 11 or "J♠" alike.
    for cards in (
        ["J", "3", "A", "10"],
        ["Jack", "3", "ace", 10],
        [11, 3, 1, "10"],
        ["J♠", "3♣", "A♠", "10♣"],
    ):
        v = verify(ans("10*3-10+4", cards=cards), [10, 3, 1, 10], cards=["J", "3", "A", "10"])
        assert v.outcome is not Outcome.WRONG_CARDS, cards


@pytest.mark.parametrize(
    "text",
    [
        '{"cards": ["3","3","8","8"], "number": [3,3,8,8], "formula": "8/(3-8/3)=24"}',
        'Here you go:\n```json\n{"formula": "8/(3-8/3)"}\n```\nDone.',
        "{'cards': ['3', '3', '8', '8'], 'formula': '8/(3-8/3)',}",
        "{formula: 8/(3-8/3), cards: [3, 3, 8, 8]}",
        'The answer: {"number": [3, 3, 8, 8], "formula": "8 / (3 - 8 / 3)"} I hope it helps.',
        "cards: 3 3 8 8\nnumbers: 3 3 8 8\nformula: 8/(3-8/3)",
        "Formula = 8÷(3−8÷3)",
    ],
)
def test_tolerant_formats(text: str) -> None:
    assert verify(text, HAND).outcome is Outcome.CORRECT, text


def test_numbers_and_cards_fields_are_read() -> None:
    a = parse_answer('{"cards": ["J", "3", "A", "10"], "number": [10, 3, 1, "10"], "formula": "x"}')
    assert a.cards == ("J", "3", "A", "10") and a.numbers == (10, 3, 1, 10)
    b = parse_answer("cards: J 3 A 10\nnumbers: 10 3 1 10\nformula: 10*3-10+4")
    assert b.cards == ("J", "3", "A", "10") and b.numbers == (10, 3, 1, 10) and b.formula == "10*3-10+4"


def test_each_answer_scored_once_no_stacked_penalties() -> None:
    # An illegal formula with wrong cards still gets exactly one outcome and one of the table's rewards.
    table = {REWARDS.of(o) for o in Outcome}
    for text in (ans("((", cards=["K"]), ans("9*9", cards=[]), "{", ans("8+8+3+3", cards=["3", "3", "8"])):
        v = verify(text, HAND, cards=["3", "3", "8", "8"])
        assert v.reward in table


def test_custom_rewards_and_partial_credit() -> None:
    v = verify(ans("8+8+3+3"), HAND, rewards=Rewards(wrong_value=-0.5))
    assert v.reward == -0.5
    p = verify(ans("8/(3-8"), HAND, solutions=("8/(3-8/3)",), partial_credit=True)
    assert p.partial and p.reward == 1.0 and p.outcome is Outcome.ILLEGAL
    off = verify(ans("8/(3-8"), HAND, solutions=("8/(3-8/3)",))
    assert not off.partial and off.reward == -3.0


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('echo pwned')",
        "exec('1')",
        "9**9**9**9",
        "9^9^9",
        "(" * 10_000 + "1" + ")" * 10_000,
        "1" * 100_000,
        "٣+٣+٨*٨",  # Arabic-Indic digits
        "３*８",  # full-width digits
        "²+²",
        "1e308*1e308",
        "0x18",
        "24",
        "[1]*24",
        "lambda: 24",
        "\x00\x01\x02",
    ],
)
def test_hostile_formulas_are_illegal_or_wrong(formula: str) -> None:
    for text in (ans(formula), formula, f"formula: {formula}"):
        v = verify(text, HAND)
        if len(text) > MAX_ANSWER_CHARS:  # scored without being read (a documented outcome of its own)
            assert v.outcome is Outcome.TOO_LONG and v.reward == -3.0, (formula, v)
        else:
            assert v.outcome in (Outcome.ILLEGAL, Outcome.WRONG_NUMBERS), (formula, v)


def test_formula_bounds() -> None:
    with pytest.raises(FormulaError, match="nested"):
        evaluate("(" * 17 + "1" + ")" * 17)
    assert evaluate("(" * 16 + "1" + ")" * 16).value == 1
    with pytest.raises(FormulaError, match="digits"):
        evaluate("1234567+1")
    with pytest.raises(FormulaError, match="longer"):
        evaluate("1+" * 150 + "1")
    assert parse_answer("x" * (MAX_ANSWER_CHARS + 1)).error


def test_evaluation_is_exact() -> None:
    ev = evaluate("1/3+1/3+1/3")
    assert ev.equals(1) and ev.value == 1
    assert not evaluate("8/3*3-0").equals(7)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


def _check_bounded(text: str) -> None:
    start = time.perf_counter()
    v = verify(text, HAND, cards=["3", "3", "8", "8"])
    assert time.perf_counter() - start < 0.5
    assert v.outcome in Outcome and isinstance(v.feedback, str) and v.feedback


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_verifier_never_raises_on_arbitrary_text(text: str) -> None:
    _check_bounded(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/()= .x^eJQKA{}[]\"':,٣８", max_size=300))
def test_verifier_never_raises_on_formula_like_text(text: str) -> None:
    _check_bounded(text)
    _check_bounded(ans(text))
    _check_bounded("{" * 50 + text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["formula", "cards", "number", "thought", "x"]), json_values, max_size=5))
def test_verifier_never_raises_on_arbitrary_json(obj: dict) -> None:
    _check_bounded(json.dumps(obj))


def test_very_long_and_deep_inputs_are_fast() -> None:
    for text in (
        "{" * 100_000,
        "[" * 100_000,
        '{"formula": "' + "(" * 5000 + '"}',
        "a" * 10**6,
        "{'a': " * 3000,
    ):
        _check_bounded(text)


@pytest.mark.parametrize(
    "text",
    [
        "{formula: " + "9" * 4400 + "}",
        '{"formula": ' + "9" * 4400 + "}",
        '{"formula": "1+1", "number": [' + "1" * 5000 + "]}",
        "{cards: [" + "1" * 5000 + '], formula: "1+1"}',
    ],
)
def test_huge_integers_are_never_an_exception(text: str) -> None:
    from gengap.gp.game import GeneralPoints

    assert verify(text, HAND, cards=["3", "3", "8", "8"]).outcome in Outcome
    ep = GeneralPoints(vision=True, image_size=32).episode(0, cards=["3", "3", "8", "8"])
    ep.step(text)
    assert ep.record()["outcomes"]


def test_text_after_the_equals_sign_is_ignored_whatever_its_length() -> None:
    assert verify(ans("8/(3-8/3)=24, because " + "x" * 400), HAND).outcome is Outcome.CORRECT


def test_card_names_with_suit_letters_and_three_digit_numbers() -> None:
    v = verify(ans("8/(3-8/3)", cards=["3S", "3h", "8C", "8d"]), HAND, cards=["3", "3", "8", "8"])
    assert v.outcome is Outcome.CORRECT
    assert parse_answer("numbers: 100 20 3 1\nformula: 1").numbers == (100, 20, 3, 1)
