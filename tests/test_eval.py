"""``gengap eval`` on model checkpoints: every game, text and vision, through the one evaluator; and the toy game
of the contract through one RL update."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from gengap.cli import main  # noqa: E402
from gengap.core.game import GAMES, register_game  # noqa: E402
from gengap.models.tiny import TinyLMConfig, TinyVLMConfig, build_tiny_lm, build_tiny_vlm  # noqa: E402
from gengap.models.vlm import VisionTowerConfig  # noqa: E402

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=2048)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    lm, tok = build_tiny_lm(SMALL)
    lm.save_pretrained(root / "lm")
    tok.save_pretrained(root / "lm")
    vlm, proc = build_tiny_vlm(TinyVLMConfig(text=SMALL, vision=VisionTowerConfig(image_size=64, hidden_size=32)))
    vlm.save_pretrained(root / "vlm")
    proc.save_pretrained(root / "vlm")
    return {"lm": root / "lm", "vlm": root / "vlm"}


@pytest.mark.parametrize(
    ("game", "vision", "headline"),
    [
        ("gp", False, "success"),
        ("gp", True, "recognition"),
        ("virl", False, "step_accuracy"),
        ("virl", True, "step_accuracy"),
    ],
)
def test_eval_of_a_checkpoint_writes_the_games_metrics_with_intervals(checkpoints, tmp_path, game, vision, headline):
    out = tmp_path / "ev"
    args = ["eval", "--game", game, "--model", str(checkpoints["vlm" if vision else "lm"]), "--splits", "id,ood-rule"]
    args += ["--n", "2", "--max-new-tokens", "6", "--style", "compact", "--out", str(out), "--quiet"]
    args += ["--world", "grid", "--verify-iter", "1"] if game == "virl" else ["--verify-iter", "2"]
    args += ["--vision", "--image-size", "64"] if vision else []
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["decoding"]["decoding"] == "greedy" and summary["decoding"]["max_new_tokens"] == 6
    assert [r["split"] for r in summary["results"]] == ["id", "ood-rule"]
    for r in summary["results"]:
        cell = r[headline]
        assert cell["n"] > 0 and cell["low"] <= cell["rate"] <= cell["high"]
    rows = [json.loads(x) for x in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["policy"] == str(checkpoints["vlm" if vision else "lm"]) for r in rows)
    if game == "virl":  # one attempt per point: an untrained model fails at the first point
        assert all(r["answers"] == 1 and not r["success"] for r in rows)
        assert summary["results"][0]["step_accuracy"]["episodes"] == 2  # the bootstrap resamples routes


def test_a_language_model_is_refused_for_the_vision_form(checkpoints, tmp_path) -> None:
    args = ["eval", "--game", "gp", "--vision", "--model", str(checkpoints["lm"]), "--n", "1", "--out", str(tmp_path)]
    assert main(args) == 2


def test_the_toy_game_runs_one_rl_update(checkpoints, tmp_path) -> None:
    from gengap.rl.config import RLConfig
    from gengap.rl.ppo import train_ppo

    register_game("echo", "test_game_contract:Echo")
    try:
        row = train_ppo(
            RLConfig(
                game="echo",
                model=str(checkpoints["lm"]),
                output_dir=str(tmp_path / "ppo"),
                updates=1,
                episodes_per_update=4,
                rollout_batch_size=4,
                minibatch_size=4,
                max_new_tokens=4,
            )
        )
    finally:
        GAMES.pop("echo")
    assert row["update"] == 1 and row["episodes"] == 4 and row["turns"] == 12  # 3 attempts each, never right
    assert row["compute"]["train_tokens"] > 0 and (tmp_path / "ppo" / "checkpoint-1" / "gengap.json").is_file()
