from __future__ import annotations

import json

import pytest

from gengap.gp import GeneralPoints, Outcome
from gengap.gp.expert import example, load_dataset, write_dataset
from gengap.gp.verifier import verify


def _last_answer(row: dict) -> str:
    content = row["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def test_optimal_data_is_single_turn_and_correct(tmp_path) -> None:
    path = write_dataset(GeneralPoints(), tmp_path / "train.jsonl", n=40, seed=1, progress=False)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 40 and len({r["seed"] for r in rows}) == 40
    for row in rows:
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert verify(_last_answer(row), row["values"], row["target"]).outcome is Outcome.CORRECT
        assert json.loads(_last_answer(row))["number"] == row["values"]
    ds = load_dataset(path)
    assert len(ds) == 40 and ds[0]["messages"][1]["role"] == "assistant"


def test_suboptimal_trajectories_carry_real_feedback() -> None:
    game = GeneralPoints(verify_iter=5)
    turns = []
    for seed in range(30):
        ep = example(game, seed, "suboptimal")
        assert ep.success and 2 <= ep.attempts <= 5
        outcomes = [v.outcome for v in ep.verdicts]
        assert outcomes[-1] is Outcome.CORRECT and Outcome.CORRECT not in outcomes[:-1]
        for v, m in zip(ep.verdicts[:-1], ep.messages[2::2], strict=False):
            assert m["role"] == "user" and v.feedback in m["content"]
        turns.append(ep.attempts)
    assert len(set(turns)) > 1


def test_vision_data_has_images_and_loads_as_dataset(tmp_path) -> None:
    game = GeneralPoints(vision=True, image_size=96, split="ood-visual")
    path = write_dataset(game, tmp_path / "vl.jsonl", n=6, kind="suboptimal", progress=False)
    row = json.loads(path.read_text().splitlines()[0])
    assert row["images"] == ["vl_images/0000000.png"]
    assert row["messages"][0]["content"][0] == {"type": "image"}
    assert all(isinstance(m["content"], list) for m in row["messages"])
    assert verify(_last_answer(row), row["values"], row["target"], cards=row["cards"]).outcome is Outcome.CORRECT
    ds = load_dataset(path)
    img = ds[0]["images"][0]
    assert img.size == (96, 96)


def test_data_is_deterministic_and_resumable(tmp_path) -> None:
    a = write_dataset(GeneralPoints(style="compact"), tmp_path / "a.jsonl", n=12, seed=3, thought=True, progress=False)
    b = tmp_path / "b.jsonl"
    write_dataset(GeneralPoints(style="compact"), b, n=5, seed=3, thought=True, progress=False)
    with b.open("a") as f:
        f.write('{"index": 5, "messages": [')  # a torn line, as a killed run leaves it
    write_dataset(GeneralPoints(style="compact"), b, n=12, seed=3, thought=True, progress=False)
    assert a.read_text() == b.read_text()
    assert "thought: " in _last_answer(json.loads(a.read_text().splitlines()[0]))


def test_bad_paths_give_clear_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\.jsonl"):
        write_dataset(GeneralPoints(), tmp_path / "x.json", n=1, progress=False)
    with pytest.raises(FileNotFoundError, match="gengap data"):
        load_dataset(tmp_path / "missing.jsonl")


def test_shortest_solution_gives_one_formula_per_value_set(tmp_path) -> None:
    """``shortest`` makes the expert a function of the numbers; ``random`` shows several solutions."""
    formulas: dict[str, dict[tuple[int, ...], set[str]]] = {}
    for choice in ("random", "shortest"):
        path = write_dataset(
            GeneralPoints(style="compact"), tmp_path / f"{choice}.jsonl", n=400, seed=3, solution=choice, progress=False
        )
        seen: dict[tuple[int, ...], set[str]] = {}
        for line in path.read_text().splitlines():
            row = json.loads(line)
            answer = _last_answer(row)
            assert verify(answer, row["values"], row["target"]).outcome is Outcome.CORRECT
            seen.setdefault(tuple(sorted(row["values"])), set()).add(answer.split("formula: ")[1])
        formulas[choice] = seen
    assert all(len(f) == 1 for f in formulas["shortest"].values())
    assert any(len(f) > 1 for f in formulas["random"].values())
    with pytest.raises(ValueError, match="solution choice"):
        example(GeneralPoints(), 0, solution="best")
