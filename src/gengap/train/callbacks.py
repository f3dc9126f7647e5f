"""Trainer callbacks: compute accounting beside every checkpoint, and a game's evaluation during training.

Both work with any ``transformers.Trainer`` (so with TRL's trainers) and under ``accelerate launch``: only the
main process writes files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from gengap.core.checkpoint import write_meta
from gengap.core.io import atomic_write_text, read_jsonl
from gengap.train.compute import Compute, total_parameters, trainable_parameters, training_compute


class ComputeCallback(TrainerCallback):
    """Writes ``gengap.json`` (tokens, FLOPs, lineage) into each checkpoint and keeps the totals up to date.

    FLOPs are 6·N·D with N the model's total size (:func:`~gengap.train.compute.total_parameters`), also
    under LoRA; the trainable count is recorded beside it.
    """

    def __init__(self, parent: dict[str, Any], run: dict[str, Any]) -> None:
        self.parent = parent
        self.run = run
        self.n_params = 0
        self.n_trainable = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if model is not None:
            self.n_params = total_parameters(model)
            self.n_trainable = trainable_parameters(model)

    def meta(self, state: Any) -> dict[str, Any]:
        own = training_compute(self.n_params, int(state.num_input_tokens_seen))
        before = Compute.from_dict(self.parent.get("compute"))
        return {
            **self.run,
            "step": state.global_step,
            "params": self.n_params,
            "trainable_params": self.n_trainable,
            "run_compute": own.to_dict(),
            "compute": before.plus(own).to_dict(),
            "parent": {k: self.parent.get(k) for k in ("model", "kind", "step", "compute") if k in self.parent},
            **({"pretrain": self.parent["pretrain"]} if "pretrain" in self.parent else {}),
        }

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            write_meta(Path(args.output_dir) / f"checkpoint-{state.global_step}", self.meta(state))


class EvalCallback(TrainerCallback):
    """Every ``every`` steps, play a game's fixed evaluation sets greedily and append its metrics.

    The rows of ``eval.jsonl`` (step, tokens, FLOPs, per-split success, rule accuracy, training-rule rate,
    format validity) are the curves of the study.
    """

    def __init__(
        self,
        tokenizer: Any,
        game: Any,
        splits: list[str],
        n: int,
        every: int,
        compute: ComputeCallback,
        seed: int = 1234,
        max_new_tokens: int = 64,
    ) -> None:
        self.tokenizer = tokenizer
        self.game = game
        self.splits = splits
        self.n = n
        self.every = every
        self.compute = compute
        self.seed = seed
        self.max_new_tokens = max_new_tokens

    def evaluate(self, model: Any, state: Any, output_dir: str) -> dict[str, Any]:
        start = time.perf_counter()
        row: dict[str, Any] = {"step": state.global_step, **self.compute.meta(state)["compute"]}
        row.update(
            evaluate_splits(model, self.tokenizer, self.game, self.splits, self.n, self.seed, self.max_new_tokens)
        )
        row["eval_seconds"] = time.perf_counter() - start
        # A resumed run evaluates again the steps after its last checkpoint: keep one row per step, the newest.
        path = Path(output_dir) / "eval.jsonl"
        rows = [r for r in read_jsonl(path) if r.get("step") != row["step"]] + [row]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
        print(json.dumps({"eval": row}), flush=True)
        return row

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if self.every and state.global_step % self.every == 0 and state.is_world_process_zero and model is not None:
            self.evaluate(model, state, args.output_dir)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if self.every and state.global_step == 0 and state.is_world_process_zero and model is not None:
            self.evaluate(model, state, args.output_dir)


def evaluate_splits(
    model: Any, tokenizer: Any, game: Any, splits: list[str], n: int, seed: int = 1234, max_new_tokens: int = 64
) -> dict[str, dict[str, Any]]:
    """Greedy play of the fixed evaluation sets of ``splits`` with the one evaluator; per split the game's
    metrics as plain rates (the proportions' intervals are in ``gengap eval``'s reports)."""
    from gengap.eval.evaluate import play_episodes
    from gengap.models.generation import SamplingConfig
    from gengap.models.policy import ModelPolicy

    policy = ModelPolicy(model, tokenizer, SamplingConfig(max_new_tokens=max_new_tokens))
    out: dict[str, dict[str, Any]] = {}
    for name in splits:
        g = game.with_split(name)
        summary = game.summarise(play_episodes(policy, g.episodes(seed, n)))
        out[name] = {k: v["rate"] for k, v in summary.items() if isinstance(v, dict) and "rate" in v}
    return out
