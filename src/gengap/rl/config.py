"""The config of ``gengap rl``: settings every algorithm shares, then PPO's and GRPO's own, grouped.

A PPO-only setting given with ``--algo grpo`` (or the reverse) is refused in one line rather than ignored.
Names follow TRL's ``GRPOConfig`` where they mean the same thing; PPO's follow the paper and CleanRL.
"""

from __future__ import annotations

from dataclasses import dataclass

from gengap.core.config import GameArgs, LoraArgs, SamplingArgs, arg, check_bounds

ALGOS = ("ppo", "grpo")
PPO = {"algo": ("ppo",)}
GRPO = {"algo": ("grpo",)}
POSITIVE = "[1, inf)"
NON_NEGATIVE = "[0, inf)"
ABOVE_ZERO = "(0, inf)"


@dataclass
class RLConfig(LoraArgs, SamplingArgs, GameArgs):
    """Every setting of an RL run from Init."""

    algo: str = arg("ppo", "ppo (turn-level PPO as in the paper) or grpo (TRL's GRPOTrainer)", choices=ALGOS)
    model: str = arg("tiny-lm", "Init: a checkpoint folder, built-in name or Hub id")
    output_dir: str = arg("runs/rl", "where checkpoints, logs and the final model go", resumable=True, output="folder")
    split: str | None = arg(None, "the training split (default: the game's training split)")
    seed: int = arg(0, "seed of episodes, sampling and initialisation")
    learning_rate: float = arg(1e-5, "learning rate", bounds=ABOVE_ZERO)
    gradient_accumulation_steps: int = arg(1, "micro-batches per optimiser step", bounds=POSITIVE)
    temperature: float = arg(0.2, "sampling temperature of rollouts (the paper: 0.2)")
    max_turns: int = arg(0, "cut an episode after this many turns (0: never)", bounds=NON_NEGATIVE)
    rollout_backend: str = arg(
        "hf", "hf (our batched generation) or vllm (GPU, colocated; pip install vllm)", choices=("hf", "vllm")
    )
    vllm_gpu_memory: float = arg(0.3, "share of GPU memory the vLLM engine may take", bounds="(0, 1]")
    report_to: str = arg("none", "trackers: none, tensorboard, wandb (comma-separated)", resumable=True)
    resume: bool = arg(True, "continue from the last checkpoint in output_dir if there is one", resumable=True)

    # --- PPO (--algo ppo) ---------------------------------------------------------------------------------
    updates: int = arg(
        20,
        "PPO updates (rollout + optimisation); may grow on resume under a constant schedule",
        applies=PPO,
        resumable=True,
        bounds=POSITIVE,
    )
    episodes_per_update: int = arg(64, "episodes played per update, per process", applies=PPO, bounds=POSITIVE)
    rollout_batch_size: int = arg(64, "episodes in flight during a rollout", applies=PPO, bounds=POSITIVE)
    epochs: int = arg(2, "passes over each update's turns", applies=PPO, bounds=POSITIVE)
    minibatch_size: int = arg(32, "turns per optimiser step", applies=PPO, bounds=POSITIVE)
    lr_scheduler_type: str = arg(
        "constant",
        "learning-rate schedule, stepped once per update",
        applies=PPO,
        choices=("constant", "linear", "cosine"),
    )
    warmup_updates: int = arg(0, "updates of linear warm-up", applies=PPO, bounds=NON_NEGATIVE)
    gamma: float = arg(0.9, "discount over turns (the paper: 0.9)", applies=PPO, bounds="[0, 1]")
    lam: float = arg(0.95, "GAE lambda (the paper: 0.95)", applies=PPO, bounds="[0, 1]")
    clip: float = arg(0.1, "PPO ratio clip (the paper: 0.1)", applies=PPO, bounds=ABOVE_ZERO)
    value_clip: float = arg(0.1, "value clip around the old value (0: unclipped)", applies=PPO, bounds=NON_NEGATIVE)
    vf_coef: float = arg(0.5, "value-loss coefficient (the paper: 0.5)", applies=PPO, bounds=NON_NEGATIVE)
    ent_coef: float = arg(0.0, "entropy bonus (off in the paper)", applies=PPO, bounds=NON_NEGATIVE)
    kl_coef: float = arg(0.0, "KL penalty to Init (off in the paper)", applies=PPO, bounds=NON_NEGATIVE)
    pre_answer_weight: float = arg(
        1.0,
        "weight of the tokens before the formula/action field (0.5: as the reference)",
        applies=PPO,
        bounds=NON_NEGATIVE,
    )
    normalize_advantages: bool = arg(True, "normalise advantages per update", applies=PPO)
    max_grad_norm: float = arg(1.0, "gradient clipping norm", applies=PPO, bounds=ABOVE_ZERO)
    save_every: int = arg(5, "checkpoint every this many updates", applies=PPO, resumable=True, bounds=POSITIVE)

    # --- GRPO (--algo grpo) -------------------------------------------------------------------------------
    n_prompts: int = arg(
        512, "distinct hands/routes in the training set, at most 10^6", applies=GRPO, bounds="[1, 1e6]"
    )
    num_generations: int = arg(
        8, "episodes per prompt (the group; at least 2, to compare them)", applies=GRPO, bounds="[2, inf)"
    )
    per_device_train_batch_size: int = arg(16, "completions per step and process", applies=GRPO, bounds=POSITIVE)
    max_steps: int = arg(50, "optimiser steps", applies=GRPO, bounds=POSITIVE)
    beta: float = arg(0.0, "KL coefficient to the reference (Init)", applies=GRPO, bounds=NON_NEGATIVE)
    save_steps: int = arg(25, "checkpoint every this many steps", applies=GRPO, resumable=True, bounds=POSITIVE)
    logging_steps: int = arg(1, "log every this many steps", applies=GRPO, resumable=True, bounds=POSITIVE)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.algo not in ALGOS:
            raise ValueError(f"--algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.rollout_backend not in ("hf", "vllm"):
            raise ValueError(f"--rollout-backend must be hf or vllm, got {self.rollout_backend!r}")
        if not 0 < self.temperature < float("inf"):
            raise ValueError(
                f"RL samples its actions: --temperature must be > 0 (the paper uses 0.2), got {self.temperature}"
            )
        if self.minibatch_size % self.gradient_accumulation_steps:
            raise ValueError("--minibatch-size must be a multiple of --gradient-accumulation-steps")
        if self.algo == "grpo" and self.vision:
            raise ValueError(
                "--algo grpo does not play the vision form yet (its prompts carry no images); use --algo ppo"
            )
