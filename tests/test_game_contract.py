"""The game contract: a toy game of a few lines joins the registry and runs through every command's path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from gengap.cli import main
from gengap.core.episode import StepResult, text_only
from gengap.core.game import GAMES, GameBase, game_class, make_game, register_game
from gengap.eval.evaluate import evaluate


class EchoEpisode:
    """Repeat the number in the prompt; ``ood`` shows numbers the ``id`` split never does."""

    def __init__(self, game: Echo, seed: int) -> None:
        self.game, self.seed = game, seed
        self.number = seed % 10 + (10 if game.split == "ood" else 0)
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": f"say {self.number}"}]
        self.outcomes: list[str] = []
        self.done = self.success = False

    def step(self, answer: str) -> StepResult:
        ok = answer.strip() == str(self.number)
        self.outcomes.append("correct" if ok else "wrong")
        self.messages.append({"role": "assistant", "content": answer})
        self.success = ok
        self.done = ok or len(self.outcomes) >= self.game.verify_iter
        if not self.done:
            self.messages.append({"role": "user", "content": "wrong, again"})
        return StepResult(1.0 if ok else -1.0, ok, self.done and not ok, self.outcomes[-1], "")

    def images(self) -> list[Any]:
        return []

    def record(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "success": self.success,
            "outcomes": self.outcomes,
            "return": sum(1.0 if o == "correct" else -1.0 for o in self.outcomes),
            "messages": [text_only(m) for m in self.messages],
        }


@dataclass(frozen=True)
class Echo(GameBase):
    title = "Echo"
    split: str = "id"
    vision: bool = False
    style: str = "plain"
    verify_iter: int = 3
    image_size: int = 0

    def episode(self, seed: int) -> EchoEpisode:
        return EchoEpisode(self, seed)

    @classmethod
    def split_names(cls) -> dict[str, str]:
        return {"id": "numbers 0-9", "ood": "numbers 10-19"}

    @classmethod
    def policies(cls) -> dict[str, Any]:
        def parrot(episodes):
            return [ep.messages[0]["content"].split()[-1] for ep in episodes]

        def stuck(episodes):  # a memoriser: only ever says single digits
            return [ep.messages[0]["content"].split()[-1][-1] for ep in episodes]

        return {"parrot": lambda: parrot, "stuck": lambda: stuck}


@pytest.fixture
def echo():
    register_game("echo", f"{__name__}:Echo")
    yield game_class("echo")
    GAMES.pop("echo")


def test_a_registered_toy_game_is_evaluated_by_the_one_evaluator(echo, tmp_path) -> None:
    game = make_game("echo", verify_iter=None)
    assert game.verify_iter == 3  # unset: the game's own default
    scripted = {name: f() for name, f in game.policies().items()}
    rows = evaluate(scripted, game, n=20, out=tmp_path / "ev", progress=False)
    by = {(r["policy"], r["split"]): r for r in rows}
    assert by[("parrot", "ood")]["success"]["rate"] == 1.0
    assert by[("stuck", "id")]["success"]["rate"] == 1.0 and by[("stuck", "ood")]["success"]["rate"] == 0.0
    low, high = by[("stuck", "ood")]["success"]["low"], by[("stuck", "ood")]["success"]["high"]
    assert low == 0.0 and 0.1 < high < 0.2  # Wilson: 0/20 is not "0 ± 0"
    assert by[("stuck", "ood")]["outcomes_by_attempt"] == [{"wrong": 20}] * 3


def test_the_command_line_finds_the_toy_game_through_the_registry(echo, tmp_path, capsys) -> None:
    out = tmp_path / "ev"
    assert main(["echo", "eval", "--model", "stuck", "--n", "5", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["game"] == "echo" and [r["split"] for r in summary["results"]] == ["id", "ood"]
    assert main(["splits", "--game", "echo"]) == 0
    assert "numbers 10-19" in capsys.readouterr().out
    assert main(["data", "--game", "echo", "--out", str(tmp_path / "d.jsonl")]) == 2  # it has no expert data
