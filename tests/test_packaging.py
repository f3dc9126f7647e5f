"""``pip install gengap`` gives the games, verifiers and scripted evaluation without torch; training is an extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "datasets", "accelerate", "peft", "pyrosm", "matplotlib")


def test_core_dependencies_leave_training_to_an_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert not any(name in core for name in HEAVY)
    extras = project["optional-dependencies"]
    assert any(d.startswith("torch") for d in extras["train"])
    assert any(d.startswith("trl") and "<2" in d for d in extras["train"])  # the rollout hook is experimental
    assert any(d.startswith("pyrosm") for d in extras["osm"])


def test_games_evaluate_and_write_data_with_the_training_stack_missing(tmp_path) -> None:
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys
        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {HEAVY!r}:
                    raise ImportError(f"{{name}} is not installed")
        sys.meta_path.insert(0, Missing())
        from gengap.cli import main
        out = {str(tmp_path)!r}
        assert main(["eval", "--game", "gp", "--model", "oracle,rule-blind", "--n", "5", "--out", out + "/gp",
                     "--quiet"]) == 0
        assert main(["gp", "data", "--n", "3", "--out", out + "/gp.jsonl", "--quiet"]) == 0
        assert main(["eval", "--game", "virl", "--world", "grid", "--model", "oracle", "--n", "2",
                     "--out", out + "/virl", "--quiet"]) == 0
        assert main(["virl", "data", "--world", "grid", "--n", "2", "--out", out + "/routes.jsonl", "--quiet"]) == 0
        import gymnasium, gengap
        env = gymnasium.make("gengap/GeneralPoints-L-v0")
        env.reset(seed=0)
        print(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "virl" / "summary.json").is_file() and (tmp_path / "gp.jsonl").is_file()
