from __future__ import annotations

from gengap.gp.formula import evaluate
from gengap.gp.rules import Rule
from gengap.train.corpus import SKILLS, CorpusConfig, corpus, is_study_task


def test_corpus_is_reproducible_and_mixed() -> None:
    a = list(corpus(CorpusConfig(seed=3), 400))
    assert a == list(corpus(CorpusConfig(seed=3), 400))
    assert a != list(corpus(CorpusConfig(seed=4), 400))
    assert {r["skill"] for r in a} == {s for s, w in CorpusConfig().weights.items() if w > 0}
    everything = CorpusConfig(weights=dict.fromkeys(SKILLS, 1.0))
    assert {r["skill"] for r in corpus(everything, 400)} == set(SKILLS)


def test_corpus_answers_are_right_and_never_the_study_task() -> None:
    for row in corpus(CorpusConfig(weights=dict.fromkeys(SKILLS, 1.0)), 1500):
        user, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        fields = dict(line.split(": ", 1) for line in user.splitlines())
        out = dict(line.split(": ", 1) for line in answer.splitlines())
        if "target" in fields:
            ev = evaluate(out["formula"])
            assert ev.equals(int(fields["target"]))
            numbers = [int(x) for x in (out.get("numbers") or fields["numbers"]).split()]
            assert sorted(ev.numbers) == sorted(numbers)
        if "rule" in fields:
            assert fields["rule"] not in ("JQK=10", "J=11 Q=12 K=13")
            if "target" in fields:
                assert int(fields["target"]) != 24
        if row["skill"] == "game24":  # the puzzle over plain numbers: no cards, no rule
            assert set(fields) == {"numbers", "target"} and fields["target"] == "24"
        if row["skill"] == "arithmetic":
            assert str(evaluate(fields["compute"]).value) == out["value"]


def test_study_task_is_recognised() -> None:
    assert is_study_task(Rule.faces(10), 24) and is_study_task(Rule.faces(11, 12, 13), 24)
    assert not is_study_task(Rule.faces(10), 23) and not is_study_task(Rule.faces(7), 24)


def test_vision_corpus_names_cards_of_every_suit() -> None:
    from gengap.train.corpus import vision_corpus

    rows = list(vision_corpus(40, image_size=64, seed=1, skills=("name_cards",)))
    answers = " ".join(r["messages"][1]["content"][0]["text"] for r in rows)
    assert all(symbol in answers for symbol in "♠♣♥♦")
    assert all(r["images"][0].size == (64, 64) for r in rows)
    again = vision_corpus(40, image_size=64, seed=1, skills=("name_cards",))
    assert [r["messages"] for r in rows] == [r["messages"] for r in again]


def test_vision_corpus_reads_street_scenes_of_every_style_but_never_navigates() -> None:
    import numpy as np

    from gengap.train.corpus import vision_corpus
    from gengap.virl.render import STYLES

    rows = list(vision_corpus(30, image_size=128, seed=2))
    signs = [r for r in rows if r["skill"] == "name_signs"]
    assert signs and any(r["skill"] == "name_cards" for r in rows)
    for r in signs:
        text = r["messages"][1]["content"][0]["text"]
        assert text.startswith("signs: ") and "intersection: " in text
        prompt = r["messages"][0]["content"][1]["text"]
        assert not any(w in (prompt + text) for w in ("turn_direction", "forward()", "Move forward", "route"))
    # both looks appear: the day sky's blue and the dusk sky's purple
    tops = [tuple(np.asarray(r["images"][0])[1, 1]) for r in signs]
    for style in STYLES.values():
        assert any(np.abs(np.array(t, int) - style.sky_top).max() < 20 for t in tops)


def test_replay_draws_from_the_base_models_own_mixture() -> None:
    datasets = __import__("pytest").importorskip("datasets")
    from gengap.train.sft import with_replay

    sft = datasets.Dataset.from_list(
        [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]} for i in range(30)]
    )
    meta = {"corpus": {"weights": {"game24": 1.0}, "max_number": 13, "max_face_value": 20, "seed": 0}}
    mixed = with_replay(sft, 0.25, seed=3, pretrain_meta=meta)
    replayed = [r["messages"] for r in mixed if not r["messages"][0]["content"].startswith("q")]
    assert len(mixed) == 40 and len(replayed) == 10
    expected = [r["messages"] for r in corpus(CorpusConfig(weights={"game24": 1.0}, seed=4), 10)]
    assert sorted(map(str, replayed)) == sorted(map(str, expected))
    # Without a recorded mixture (a Hub model), replay uses the default mixture: several skills appear.
    default = with_replay(sft, 0.5, seed=3)
    firsts = {
        r["messages"][0]["content"].split()[0] for r in default if not r["messages"][0]["content"].startswith("q")
    }
    assert len(firsts) > 1
