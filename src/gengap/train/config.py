"""The configs of ``gengap sft`` and ``gengap pretrain`` (plain dataclasses: importing them costs nothing).

Names follow TRL's ``SFTConfig`` where they mean the same thing. Fields declared ``resumable`` may change when a
run resumes from its last checkpoint (they do not shape the weights); any other change is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from gengap.core.config import LoraArgs, arg


@dataclass
class SFTRunConfig(LoraArgs):
    """Every setting of ``gengap sft``."""

    model: str = arg("tiny-lm", "the starting model: a built-in name, a checkpoint folder or a Hub id")
    data: list[str] = arg(
        factory=list, help="expert data files (JSON lines with a messages column), e.g. from `gengap data`"
    )
    output_dir: str = arg("runs/sft", "where checkpoints and the final model go", resumable=True)
    max_steps: int = arg(300, "optimiser steps")
    per_device_train_batch_size: int = arg(32, "conversations per step and process")
    gradient_accumulation_steps: int = arg(1, "micro-batches per optimiser step")
    learning_rate: float = arg(1e-3, "peak learning rate")
    lr_scheduler_type: str = arg("cosine", "learning-rate schedule (transformers' names: cosine, linear, constant)")
    warmup_steps: float = arg(0.03, "steps of linear warm-up; below 1, a share of max_steps (the paper: 3 %)")
    save_steps: int = arg(100, "checkpoint every this many steps", resumable=True)
    logging_steps: int = arg(10, "log every this many steps", resumable=True)
    max_length: int = arg(512, "longest conversation in tokens (longer ones are cut)")
    train_sampling_strategy: str = arg(
        "random",
        "random, or group_by_length (less padding: 1.4x tokens/s for tiny-lm on CPU, but each batch became one "
        "skill of the pretraining mixture and tiny-lm never learnt the answer format in 500 steps)",
    )
    seed: int = arg(0, "seed of data order and initialisation")
    gradient_checkpointing: str = arg(
        "auto", "auto (on for GPUs, off for CPUs, where it only costs time), on or off", resumable=True
    )
    replay_ratio: float = arg(0.0, "share of the base's own pretraining corpus mixed into the SFT data (replay)")
    eval_steps: int = arg(0, "evaluate every this many steps (0: never); rows go to eval.jsonl", resumable=True)
    eval_game: str = arg("gp", "the game evaluated during training", resumable=True)
    eval_n: int = arg(100, "episodes per split of that evaluation", resumable=True)
    eval_splits: list[str] = arg(factory=lambda: ["id", "ood-rule"], help="its splits", resumable=True)
    eval_style: str = arg("compact", "its prompt style", resumable=True)
    report_to: str = arg("none", "trackers: none, tensorboard, wandb", resumable=True)
    resume: bool = arg(True, "continue from the last checkpoint in output_dir if there is one", resumable=True)

    def __post_init__(self) -> None:
        if isinstance(self.data, str):
            self.data = [self.data]
        if isinstance(self.eval_splits, str):
            self.eval_splits = [s for s in self.eval_splits.split(",") if s]
        self.eval_splits = [s for item in self.eval_splits for s in item.split(",") if s]
        if self.gradient_checkpointing not in ("auto", "on", "off"):
            raise ValueError(f"gradient_checkpointing is auto, on or off, not {self.gradient_checkpointing!r}")
        if not 0 <= self.replay_ratio < 1:
            raise ValueError(f"replay_ratio must be in [0, 1), got {self.replay_ratio}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")


LM = {"model": ("tiny-lm",)}
VLM = {"model": ("tiny-vlm", "smollm2-135m-vlm")}


@dataclass
class PretrainRunConfig:
    """Every setting of ``gengap pretrain`` (the built-in base models)."""

    model: str = arg(
        "tiny-lm",
        "which base: tiny-lm, tiny-vlm or smollm2-135m-vlm",
        choices=("tiny-lm", "tiny-vlm", "smollm2-135m-vlm"),
    )
    base: str = arg("tiny-lm", "the language model tiny-vlm is built around", applies={"model": ("tiny-vlm",)})
    max_steps: int | None = arg(None, "default 1500 (tiny-lm), 1200 (the joint VLM stage)")
    batch_size: int | None = arg(None, "default 32 (tiny-lm), 16 (VLM)")
    learning_rate: float | None = arg(None, "default 2e-3 (tiny-lm), 1e-3 (VLM)")
    tower_steps: int | None = arg(
        None, "steps of the vision tower's own pretraining (default 1500; 0 skips)", applies=VLM
    )
    vision_skills: str = arg("name_cards,name_signs", "the naming corpus (name_cards, name_signs)", applies=VLM)
    hidden_size: int = arg(192, "width of the residual stream", applies=LM)
    num_layers: int = arg(4, "transformer layers", applies=LM)
    num_heads: int = arg(3, "attention heads", applies=LM)
    intermediate_size: int = arg(512, "width of the MLP", applies=LM)
    save_steps: int = arg(200, "checkpoint every this many steps", resumable=True, applies=LM)
    eval_steps: int = arg(0, "evaluate GeneralPoints (compact) every this many steps (0: never)", resumable=True)
    eval_n: int = arg(100, "episodes per split of that evaluation", resumable=True)
    output_dir: str | None = arg(None, "default: the built-in model's cache folder", resumable=True)
    corpus_weights: str = arg("", "pretraining mixture, e.g. rule_values=3,make_target=1", applies=LM)
    seed: int = arg(0, "seed of the corpus and initialisation")

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.tower_steps is not None and self.tower_steps < 0:
            raise ValueError(f"tower_steps must be 0 or more, got {self.tower_steps}")

    def weights(self) -> dict[str, float]:
        """``--corpus-weights`` as a dict (empty: the corpus defaults)."""
        if not self.corpus_weights:
            return {}
        try:
            return {k: float(v) for k, v in (item.split("=") for item in self.corpus_weights.split(","))}
        except ValueError:
            raise ValueError("--corpus-weights takes skill=weight pairs, e.g. rule_values=3,make_target=1") from None
