from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gengap.gp import GeneralPoints, Outcome, Split, get_split
from gengap.gp.cards import FACE_RANKS
from gengap.gp.prompts import PHRASINGS
from gengap.gp.splits import SPLITS


def hands(game: GeneralPoints, seed: int, n: int) -> list[tuple]:
    return [(e.seed, e.hand, e.prompt) for e in game.episodes(seed, n)]


def test_same_seed_same_episodes_different_seed_different() -> None:
    for name in ("id", "ood-rule", "five-cards", "id-deck", "diverse-prompts"):
        game = GeneralPoints(split=name)
        assert hands(game, 7, 30) == hands(GeneralPoints(split=name), 7, 30)
        assert hands(game, 7, 30) != hands(game, 8, 30)
    # A prefix of an evaluation set does not depend on its size.
    assert hands(GeneralPoints(), 3, 5) == hands(GeneralPoints(), 3, 40)[:5]


def test_same_seed_same_hands_in_a_fresh_process() -> None:
    code = "from gengap.gp import GeneralPoints as G; print([e.hand.ranks for e in G(split='ood-rule').episodes(5, 5)])"
    out = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in (0, 1)
    ]
    assert out[0] == out[1]
    assert out[0].strip() == str([e.hand.ranks for e in GeneralPoints(split="ood-rule").episodes(5, 5)])


def test_every_dealt_hand_is_solvable_under_its_rule() -> None:
    for name in SPLITS:
        game = GeneralPoints(split=name)
        for ep in game.episodes(1, 25):
            assert len(ep.hand) == game.split.n_cards
            assert ep.solutions, (name, ep.hand)
            assert all(s in game.split.suits for s in ep.hand.suits)


def test_ood_rule_hands_always_contain_a_face_card() -> None:
    for name in ("ood-rule", "fake-rule", "faces-5"):
        for ep in GeneralPoints(split=name).episodes(0, 300):
            assert any(r in FACE_RANKS for r in ep.hand.ranks)


def test_splits_of_the_study() -> None:
    assert get_split("id").rule.values[10:] == (10, 10, 10)
    assert get_split("ood-rule").rule.values[10:] == (11, 12, 13)
    assert set(get_split("id").suits) == {"spades", "clubs"}
    assert set(get_split("ood-visual").suits) == {"hearts", "diamonds"}
    # id and ood-visual differ only in suits: the same seed deals the same ranks (paired comparison).
    same = [e.hand.ranks for e in GeneralPoints(split="id").episodes(4, 20)]
    assert same == [e.hand.ranks for e in GeneralPoints(split="ood-visual").episodes(4, 20)]


def test_split_is_serialisable() -> None:
    for split in SPLITS.values():
        data = json.loads(json.dumps(split.to_dict()))
        assert Split.from_dict(data) == split
    with pytest.raises(ValueError, match="unknown split key"):
        Split.from_dict({"name": "x", "tagret": 24})
    with pytest.raises(ValueError, match="unknown split"):
        get_split("nope")


def test_split_from_json_file(tmp_path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "rule": "faces-9", "target": 25, "require_face": True}))
    game = GeneralPoints(split=get_split(str(path)))
    ep = game.episode(0)
    assert ep.target == 25 and "9" in ep.prompt and any(r in FACE_RANKS for r in ep.hand.ranks)


def test_deck_deals_no_card_twice() -> None:
    for ep in GeneralPoints(split="id-deck").episodes(0, 200):
        cards = list(zip(ep.hand.ranks, ep.hand.suits, strict=True))
        assert len(set(cards)) == len(cards)


def test_multi_turn_feedback_and_budget() -> None:
    game = GeneralPoints(verify_iter=3)
    ep = game.episode(0, cards=["3", "3", "8", "8"])
    r1 = ep.step('{"formula": "8+8+3+3"}')
    assert (r1.outcome, r1.reward, r1.terminated, r1.truncated) == ("wrong_value", -1.0, False, False)
    assert ep.messages[-1] == {
        "role": "user",
        "content": "You failed this trial because the formula equals 22, not 24. Try again.",
    }
    ep.step("nonsense")
    r3 = ep.step('{"formula": "8*3"}')
    assert r3.truncated and not r3.terminated and ep.done and not ep.success
    assert r3.reward == -2.0 + -1.0  # the answer's penalty plus the budget penalty
    assert [m["role"] for m in ep.messages] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    with pytest.raises(RuntimeError):
        ep.step("again")


def test_success_ends_the_episode() -> None:
    ep = GeneralPoints().episode(0, cards=["3", "3", "8", "8"])
    r = ep.step('{"formula": "8/(3-8/3)"}')
    assert r.terminated and not r.truncated and ep.success and r.reward == 5.0


def test_single_turn() -> None:
    ep = GeneralPoints(verify_iter=1).episode(0, cards=["3", "3", "8", "8"])
    r = ep.step("{}")
    assert r.truncated and r.reward == -3.0 - 1.0


def test_fake_rule_states_new_rule_but_scores_training_rule() -> None:
    ep = GeneralPoints(split="fake-rule").episode(3)
    assert "11, 12 and 13" in ep.prompt
    assert ep.values == tuple(min(v, 10) for v in ep.stated_values)
    verdict = ep.step(json.dumps({"formula": ep.solutions[0]})).info["verdict"]
    assert verdict.outcome is Outcome.CORRECT


def test_prompt_styles_and_phrasings() -> None:
    compact = GeneralPoints(style="compact").episode(0, cards=["J", "3", "A", "10"])
    assert compact.prompt == "cards: J 3 A 10\nrule: JQK=10\ntarget: 24"
    assert len(compact.prompt) < 60
    assert compact.step("numbers: 10 3 1 10\nformula: 10+10+3+1").terminated
    paper = GeneralPoints().episode(0, cards=["J", "3", "A", "10"])
    assert "['J', '3', 'A', '10']" in paper.prompt and "count as 10" in paper.prompt and "24" in paper.prompt
    vl = GeneralPoints(vision=True).episode(0, cards=["J", "3", "A", "10"])
    assert "'J', '3'" not in vl.prompt and vl.messages[0]["content"][0] == {"type": "image"}
    diverse = {e.prompt.split(".")[0] for e in GeneralPoints(split="diverse-prompts").episodes(0, 40)}
    assert len(diverse) > 1
    assert len(PHRASINGS) >= 4


def test_game_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="style"):
        GeneralPoints(style="verbose")
    with pytest.raises(ValueError, match="verify_iter"):
        GeneralPoints(verify_iter=0)
    with pytest.raises(ValueError, match="not a card rank"):
        GeneralPoints().episode(0, cards=["3", "3", "8", "Z"])


def test_rule_instruments() -> None:
    ep = GeneralPoints(split="ood-rule").episode(0, cards=["J", "3", "A", "10"])
    v = ep.step('{"number": [10, 3, 1, 10], "formula": "10*3-10+4"}').info["verdict"]
    assert ep.rule_correct(v) is False and ep.follows_train_rule(v) is True
    v2 = ep.step('{"number": [11, 3, 1, 10], "formula": "11+10+3-1"}').info["verdict"]
    assert ep.rule_correct(v2) is True and ep.follows_train_rule(v2) is False
    rec = ep.record()
    assert rec["outcomes"] == ["wrong_numbers", "wrong_value"]
    assert rec["rule_correct"] == [False, True] and rec["train_rule"] == [True, False]


def test_game_core_does_not_import_torch() -> None:
    code = (
        "import sys, gengap, gengap.gp, gengap.gp.env, gengap.gp.expert, gengap.eval.evaluate;"
        "import gengap.cli, gengap.cli.evaluate;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_missing_field_never_improves_the_instruments() -> None:
    from gengap.gp.metrics import summarise

    game = GeneralPoints(split="ood-rule", vision=True, image_size=32, verify_iter=1)
    eps = game.episodes(0, 4)
    eps[0].step(json.dumps({"cards": list(eps[0].hand.ranks), "number": list(eps[0].values), "formula": "1"}))
    for ep in eps[1:]:
        ep.step('{"formula": "1+1"}')  # no cards, no numbers
    s = summarise(ep.record() for ep in eps)
    assert s["rule_accuracy"]["n"] == 4 and s["rule_accuracy"]["rate"] == 0.25
    assert s["recognition"]["n"] == 4 and s["recognition"]["rate"] == 0.25
    assert s["format_validity"]["rate"] == 1.0  # every answer had a readable formula field
