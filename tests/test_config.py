"""Configs a user writes down: flags generated from the dataclasses, ``--config`` YAML, one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gengap.cli import main
from gengap.core.config import ConfigError, parse_config, shaping
from gengap.eval.config import EvalConfig
from gengap.rl.config import RLConfig
from gengap.train.config import SFTRunConfig


def test_a_yaml_config_reproduces_a_command_line_run_exactly(tmp_path) -> None:
    flags = ["--game", "gp", "--model", "noisy,rule-blind", "--splits", "id,ood-rule", "--n", "12", "--seed", "3"]
    assert main(["eval", *flags, "--verify-iter", "2", "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    (tmp_path / "run.yaml").write_text(
        "game: gp\nmodel: [noisy, rule-blind]\nsplits: id,ood-rule\nn: 12\nseed: 3\nverify_iter: 2\nquiet: true\n"
    )
    assert main(["eval", "--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "yaml")]) == 0
    for name in ("episodes.jsonl", "summary.json"):
        assert (tmp_path / "cli" / name).read_text() == (tmp_path / "yaml" / name).read_text()
    # The folder's own config.yaml reruns it too (and the command line overrides it).
    assert main(["eval", "--config", str(tmp_path / "cli" / "config.yaml"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "summary.json").read_text() == (tmp_path / "cli" / "summary.json").read_text()
    # A rerun with another budget is refused and leaves the folder's config as it was.
    before = (tmp_path / "cli" / "config.yaml").read_text()
    assert main(["eval", *flags, "--verify-iter", "3", "--out", str(tmp_path / "cli"), "--quiet"]) == 2
    assert (tmp_path / "cli" / "config.yaml").read_text() == before
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["settings"]["verify_iter"] == 2 and summary["settings"]["episodes"] == {"id": 12, "ood-rule": 12}


def test_the_command_line_overrides_the_yaml(tmp_path) -> None:
    (tmp_path / "c.yaml").write_text("algo: ppo\nlearning_rate: 0.5\nclip: 0.3\n")
    cfg = parse_config(RLConfig, ["--config", str(tmp_path / "c.yaml"), "--learning-rate", "0.25"])
    assert cfg.learning_rate == 0.25 and cfg.clip == 0.3 and cfg.algo == "ppo"


def test_misspelt_keys_are_refused_naming_the_nearest(tmp_path) -> None:
    (tmp_path / "c.yaml").write_text("lerning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'lerning_rate' \(did you mean --learning-rate\?\)"):
        parse_config(RLConfig, ["--config", str(tmp_path / "c.yaml")])
    with pytest.raises(ConfigError, match=r"unknown option --lerning-rate \(did you mean --learning-rate\?\)"):
        parse_config(RLConfig, ["--lerning-rate", "0.1"])


def test_settings_of_another_algorithm_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"--clip does not apply here: it is for --algo ppo.*--algo grpo"):
        parse_config(RLConfig, ["--algo", "grpo", "--clip", "0.2"])
    (tmp_path / "c.yaml").write_text("algo: ppo\nnum_generations: 4\n")
    with pytest.raises(ConfigError, match=r"--num-generations does not apply here: it is for --algo grpo"):
        parse_config(RLConfig, ["--config", str(tmp_path / "c.yaml")])
    # A default is not a setting: GRPO runs do not trip over PPO fields they never named.
    assert parse_config(RLConfig, ["--algo", "grpo", "--num-generations", "4"]).num_generations == 4


def test_options_of_another_game_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"--world does not apply here: it is for --game virl"):
        parse_config(EvalConfig, ["--game", "gp", "--world", "grid"])
    cfg = parse_config(EvalConfig, ["--game", "virl", "--world", "grid"])
    assert cfg.game_options == {"world": "grid"} and cfg.make_game().world == "grid"


def test_an_unset_verification_budget_is_the_games_own() -> None:
    assert parse_config(RLConfig, ["--game", "virl", "--world", "grid"]).make_game("id").verify_iter == 2
    assert parse_config(RLConfig, ["--game", "gp"]).make_game("id").verify_iter == 5
    assert (
        parse_config(RLConfig, ["--game", "virl", "--world", "grid", "--verify-iter", "4"]).make_game().verify_iter == 4
    )


def test_what_may_change_on_resume_is_declared_on_the_fields() -> None:
    sft = shaping(SFTRunConfig(output_dir="a", save_steps=5))
    assert "output_dir" not in sft and "save_steps" not in sft and "learning_rate" in sft
    assert shaping(SFTRunConfig(output_dir="a")) == shaping(SFTRunConfig(output_dir="b", eval_steps=7))
    rl = shaping(RLConfig())
    assert "updates" not in rl and "clip" in rl and "report_to" not in rl


def test_list_flags_take_both_styles() -> None:
    a = parse_config(EvalConfig, ["--splits", "id", "ood-rule", "--model", "oracle"])
    b = parse_config(EvalConfig, ["--splits", "id,ood-rule", "--model", "oracle"])
    assert a.splits == b.splits == ["id", "ood-rule"]


@pytest.mark.parametrize(
    "args",
    [
        ["rl", "--algo", "grpo", "--clip", "0.2"],
        ["rl", "--lerning-rate", "1"],
        ["eval", "--n", "abc"],
        ["eval", "--n", "0"],
        ["eval", "--top-p", "5"],
        ["eval", "--config", "missing.yaml"],
        ["eval", "--game", "chess"],
        ["sft", "--max-steps", "0"],
        ["data", "--game", "gp", "--kind", "routes", "--out", "x.jsonl"],
    ],
)
def test_bad_settings_end_in_one_line(args, tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gengap.cli", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gengap: error:"), proc.stderr


def test_hostile_but_plausible_inputs(tmp_path, capsys) -> None:
    (tmp_path / "eq.yaml").write_text("model: rule-blind\nsplits: id\nn: 2\n")
    cfg = parse_config(EvalConfig, [f"--config={tmp_path / 'eq.yaml'}"])  # the `=` form is not ignored
    assert cfg.model == ["rule-blind"] and cfg.splits == ["id"] and cfg.n == 2
    assert parse_config(EvalConfig, ["--model", "oracle", "--model", "noisy"]).model == ["oracle", "noisy"]
    for bad in ("n: 2.5\n", "splits: 5\n", "model: {a: 1}\n", "vision: maybe\n"):
        (tmp_path / "bad.yaml").write_text(bad)
        with pytest.raises(ConfigError, match=r"--config: \w+: invalid value"):
            parse_config(EvalConfig, ["--config", str(tmp_path / "bad.yaml")])
    with pytest.raises(ConfigError, match=r"--tower-steps does not apply here: it is for --model tiny-vlm"):
        from gengap.train.config import PretrainRunConfig

        parse_config(PretrainRunConfig, ["--model", "tiny-lm", "--tower-steps", "5"])
    with pytest.raises(ValueError, match="grpo does not play the vision form"):
        parse_config(RLConfig, ["--algo", "grpo", "--vision"])
    assert main(["gp", "eval", "--game", "virl", "--out", str(tmp_path / "x")]) == 2
    assert main(["eval", "--model", "orcale", "--out", str(tmp_path / "x")]) == 2  # not sent to the Hub
    assert "did you mean 'oracle'" in capsys.readouterr().err


def test_a_split_file_is_evaluated_and_resumed(tmp_path) -> None:
    (tmp_path / "mine.json").write_text(json.dumps({"name": "mine", "target": 30, "require_face": True}))
    args = ["eval", "--model", "oracle", "--splits", str(tmp_path / "mine.json"), "--n", "3", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "ev")]) == 0
    assert main([*args, "--out", str(tmp_path / "ev")]) == 0  # resumes: nothing played twice
    assert len((tmp_path / "ev" / "episodes.jsonl").read_text().splitlines()) == 3
    (result,) = json.loads((tmp_path / "ev" / "summary.json").read_text())["results"]
    assert result["split"] == str(tmp_path / "mine.json") and result["success"]["rate"] == 1.0
