"""Trainer callbacks: compute accounting beside every checkpoint, and a game's evaluation during training; and
how a ``transformers.Trainer`` run resumes exactly after a crash (:func:`resume_point`, :func:`train_to_the_end`).

All work with any ``transformers.Trainer`` (so with TRL's trainers) and under ``accelerate launch``: only the
main process writes files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from gengap.core.checkpoint import discard_after, last_complete_checkpoint, read_meta, write_meta
from gengap.core.io import atomic_write_text, read_jsonl
from gengap.train.compute import Compute, TokenCount, total_parameters, trainable_parameters, training_compute

TRAINER_STATE = "trainer_state.json"
"""The Trainer's own record in a checkpoint (step, tokens seen, log history), written just before ``gengap.json``."""


class ComputeCallback(TrainerCallback):
    """Writes ``gengap.json`` (tokens, FLOPs, lineage) into each checkpoint and keeps the totals up to date.

    FLOPs are 6·N·D with N the model's total size (:func:`~gengap.train.compute.total_parameters`), also
    under LoRA; the trainable count is recorded beside it.
    """

    def __init__(self, parent: dict[str, Any], run: dict[str, Any], tokens: TokenCount | None = None) -> None:
        self.parent = parent
        self.run = run
        self.tokens = tokens
        """Counted by the run itself (GRPO's rollouts); ``None``: the Trainer's ``num_input_tokens_seen``."""
        self.n_params = 0
        self.n_trainable = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if model is not None:
            self.measure(model)

    def measure(self, model: Any) -> None:
        """Count the model's parameters (done when training begins; a run that only finishes calls it itself)."""
        self.n_params = total_parameters(model)
        self.n_trainable = trainable_parameters(model)

    def spent(self, state: Any) -> Compute:
        """This run's compute so far: 6·N·D over the tokens the Trainer has seen (restored on resume)."""
        if self.tokens is not None:
            return self.tokens.compute(self.n_params)
        return training_compute(self.n_params, int(state.num_input_tokens_seen))

    def restore(self, checkpoint: Path) -> None:
        """Resume the run's own token count from ``checkpoint`` (the Trainer restores its own)."""
        if self.tokens is not None:
            self.tokens.restore(read_meta(checkpoint).get("run_compute"))

    def meta(self, state: Any) -> dict[str, Any]:
        own = self.spent(state)
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


def resume_point(output_dir: str | Path, trainer: Any, resume: bool) -> Path | None:
    """The latest complete checkpoint of ``output_dir`` (``None``: start afresh); incomplete ones after it are
    deleted by the main process.

    ``transformers``' own ``get_last_checkpoint`` takes the highest-numbered folder even when a crash cut it
    short (no optimiser state, no ``trainer_state.json``): the Trainer then fails, or silently restarts the
    step count on loaded weights. Ours is complete once its ``gengap.json`` is written, after everything else.
    """
    if not resume:
        return None
    last = last_complete_checkpoint(output_dir, required=(TRAINER_STATE,))
    if trainer.is_world_process_zero():
        discard_after(output_dir, last)
        if last is not None:
            print(f"resuming from {last}", flush=True)
    return last


def train_to_the_end(trainer: Any, last: Path | None, compute: ComputeCallback) -> None:
    """``trainer.train()``, resumed from ``last``, so that the run ends exactly where an uninterrupted one does.

    Two things a plain resume gets wrong, fixed here. From a checkpoint at ``max_steps`` (a crash after the final
    checkpoint, before the final model was written) the Trainer trains one more step than asked (121 of 120)
    and counts its tokens: we restore that checkpoint instead. And TRL's SFT trainer restarts its logged
    ``num_tokens`` at 0: we restore it from the tokens the checkpoint had seen.
    """
    from transformers import TrainerState

    if last is None:
        trainer.train()
        return
    state = json.loads((last / TRAINER_STATE).read_text())
    compute.restore(last)
    if int(state["global_step"]) >= trainer.args.max_steps:
        trainer._load_from_checkpoint(str(last))
        trainer.state = TrainerState.load_from_json(str(last / TRAINER_STATE))
        compute.measure(trainer.model)
        return
    if hasattr(trainer, "_total_train_tokens"):  # TRL's SFTTrainer: the same count as num_input_tokens_seen
        trainer._total_train_tokens = int(state.get("num_input_tokens_seen", 0))
    trainer.train(resume_from_checkpoint=str(last))


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
