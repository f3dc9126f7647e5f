"""The configs of ``gengap sft`` and ``gengap pretrain`` (plain dataclasses: importing them costs nothing).

Names follow TRL's ``SFTConfig`` where they mean the same thing. Fields declared ``resumable`` may change when a
run resumes from its last checkpoint (they do not shape the weights); any other change is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from gengap.core.config import LoraArgs, arg, check_bounds

POSITIVE = "[1, inf)"
"""Counts and sizes: at least 1."""
NON_NEGATIVE = "[0, inf)"
"""Intervals where 0 means never, and amounts that may be 0."""
RATE = "(0, inf)"
"""Learning rates: above 0."""


@dataclass
class SFTRunConfig(LoraArgs):
    """Every setting of ``gengap sft``."""

    model: str = arg("tiny-lm", "the starting model: a built-in name, a checkpoint folder or a Hub id")
    data: list[str] = arg(
        factory=list, help="expert data files (JSON lines with a messages column), e.g. from `gengap data`"
    )
    output_dir: str = arg("runs/sft", "where checkpoints and the final model go", resumable=True, output="folder")
    max_steps: int = arg(300, "optimiser steps", bounds=POSITIVE)
    per_device_train_batch_size: int = arg(32, "conversations per step and process", bounds=POSITIVE)
    gradient_accumulation_steps: int = arg(1, "micro-batches per optimiser step", bounds=POSITIVE)
    learning_rate: float = arg(1e-3, "peak learning rate", bounds=RATE)
    lr_scheduler_type: str = arg("cosine", "learning-rate schedule (transformers' names: cosine, linear, constant)")
    warmup_steps: float = arg(
        0.03, "steps of linear warm-up; below 1, a share of max_steps (the paper: 3 %)", bounds=NON_NEGATIVE
    )
    save_steps: int = arg(100, "checkpoint every this many steps", resumable=True, bounds=POSITIVE)
    logging_steps: int = arg(10, "log every this many steps", resumable=True, bounds=POSITIVE)
    max_length: int = arg(512, "longest conversation in tokens (longer ones are cut)", bounds=POSITIVE)
    train_sampling_strategy: str = arg(
        "random",
        "random, or group_by_length (less padding: 1.4x tokens/s for tiny-lm on CPU, but each batch became one "
        "skill of the pretraining mixture and tiny-lm never learnt the answer format in 500 steps)",
    )
    seed: int = arg(0, "seed of data order and initialisation")
    gradient_checkpointing: str = arg(
        "auto", "auto (on for GPUs, off for CPUs, where it only costs time), on or off", resumable=True
    )
    replay_ratio: float = arg(
        0.0, "share of the base's own pretraining corpus mixed into the SFT data (replay)", bounds="[0, 1)"
    )
    eval_steps: int = arg(
        0, "evaluate every this many steps (0: never); rows go to eval.jsonl", resumable=True, bounds=NON_NEGATIVE
    )
    eval_game: str = arg("gp", "the game evaluated during training", resumable=True)
    eval_n: int = arg(100, "episodes per split of that evaluation", resumable=True, bounds=POSITIVE)
    eval_splits: list[str] = arg(factory=lambda: ["id", "ood-rule"], help="its splits", resumable=True)
    eval_style: str = arg("compact", "its prompt style", resumable=True)
    report_to: str = arg("none", "trackers: none, tensorboard, wandb", resumable=True)
    resume: bool = arg(True, "continue from the last checkpoint in output_dir if there is one", resumable=True)

    def __post_init__(self) -> None:
        check_bounds(self)
        if isinstance(self.data, str):
            self.data = [self.data]
        if isinstance(self.eval_splits, str):
            self.eval_splits = [s for s in self.eval_splits.split(",") if s]
        self.eval_splits = [s for item in self.eval_splits for s in item.split(",") if s]
        if self.gradient_checkpointing not in ("auto", "on", "off"):
            raise ValueError(f"--gradient-checkpointing is auto, on or off, not {self.gradient_checkpointing!r}")


VISION_SKILLS_DEFAULT = "name_cards,name_signs"
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
    max_steps: int | None = arg(None, "default 1500 (tiny-lm), 1200 (the joint VLM stage)", bounds=POSITIVE)
    batch_size: int | None = arg(None, "default 32 (tiny-lm), 16 (VLM)", bounds=POSITIVE)
    learning_rate: float | None = arg(None, "default 2e-3 (tiny-lm), 1e-3 (VLM)", bounds=RATE)
    tower_steps: int | None = arg(
        None, "steps of the vision tower's own pretraining (default 1500; 0 skips)", applies=VLM, bounds=NON_NEGATIVE
    )
    vision_skills: str = arg(VISION_SKILLS_DEFAULT, "the naming corpus (name_cards, name_signs)", applies=VLM)
    hidden_size: int = arg(192, "width of the residual stream", applies=LM, bounds=POSITIVE)
    num_layers: int = arg(4, "transformer layers", applies=LM, bounds=POSITIVE)
    num_heads: int = arg(3, "attention heads (hidden size / heads: an even head size)", applies=LM, bounds=POSITIVE)
    intermediate_size: int = arg(512, "width of the MLP", applies=LM, bounds=POSITIVE)
    save_steps: int = arg(200, "checkpoint every this many steps", resumable=True, applies=LM, bounds=POSITIVE)
    eval_steps: int = arg(
        0, "evaluate GeneralPoints (compact) every this many steps (0: never)", resumable=True, bounds=NON_NEGATIVE
    )
    eval_n: int = arg(100, "episodes per split of that evaluation", resumable=True, bounds=POSITIVE)
    output_dir: str | None = arg(None, "default: the built-in model's cache folder", resumable=True, output="folder")
    corpus_weights: str = arg("", "pretraining mixture, e.g. rule_values=3,make_target=1", applies=LM)
    seed: int = arg(0, "seed of the corpus and initialisation")

    def __post_init__(self) -> None:
        check_bounds(self)
        head, rest = divmod(self.hidden_size, self.num_heads)
        if rest or head % 2:
            raise ValueError(
                f"--hidden-size {self.hidden_size} must split into --num-heads {self.num_heads} heads of an even "
                "size (rotary position embeddings turn pairs of dimensions), e.g. --hidden-size 192 --num-heads 3"
            )
        self._check_skills()

    def _check_skills(self) -> None:
        """Malformed or unknown ``--corpus-weights`` / ``--vision-skills`` fail here, before any model is built
        (the corpus module is imported only when they are set)."""
        weights = self.weights()
        skills = [s.strip() for s in self.vision_skills.split(",")]
        if not weights and self.vision_skills == VISION_SKILLS_DEFAULT:
            return
        from gengap.train.corpus import SKILLS, VISION_SKILLS, CorpusConfig

        unknown = sorted(set(weights) - set(SKILLS))
        if unknown:
            raise ValueError(
                f"--corpus-weights: unknown skill(s) {', '.join(unknown)}; choose from {', '.join(SKILLS)}"
            )
        if weights and not any(w > 0 for w in {**CorpusConfig().weights, **weights}.values()):
            raise ValueError("--corpus-weights leaves every skill at weight 0; give one a positive weight")
        unknown = sorted(set(skills) - set(VISION_SKILLS))
        if unknown:
            raise ValueError(
                f"--vision-skills: unknown skill(s) {', '.join(unknown)}; choose from {', '.join(VISION_SKILLS)}"
            )

    def language_base(self) -> str:
        """The language model a VLM is built around (SmolLM2 for its VLM, ``--base`` for tiny-vlm)."""
        return "smollm2-135m" if self.model == "smollm2-135m-vlm" else self.base

    def weights(self) -> dict[str, float]:
        """``--corpus-weights`` as a dict (empty: the corpus defaults)."""
        if not self.corpus_weights:
            return {}
        try:
            pairs = {k.strip(): float(v) for k, v in (item.split("=") for item in self.corpus_weights.split(","))}
        except ValueError:
            raise ValueError("--corpus-weights takes skill=weight pairs, e.g. rule_values=3,make_target=1") from None
        bad = [f"{k}={v}" for k, v in pairs.items() if not 0 <= v < float("inf")]
        if bad:
            raise ValueError(f"--corpus-weights must be finite and 0 or more, got {', '.join(bad)}")
        return pairs
