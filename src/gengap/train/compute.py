"""Compute accounting, the study's x-axis: training costs 6·N·D, generation 2·N·D.

N is the model's total parameter count (:func:`total_parameters`), D real tokens (padding excluded). The paper
fully fine-tunes, so its N is the model's size; a LoRA run of the same model is charged the same N, and its
trainable count (:func:`trainable_parameters`) is recorded beside it. Each checkpoint carries a ``gengap.json``
(:mod:`gengap.core.checkpoint`) with ``params``, ``trainable_params`` and the compute of its own run plus
everything its starting checkpoint had spent, so an SFT or RL branch from Init is plotted from Init's spend
onward.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Compute:
    train_tokens: int = 0
    train_flops: float = 0.0
    generation_tokens: int = 0
    generation_flops: float = 0.0

    @property
    def flops(self) -> float:
        return self.train_flops + self.generation_flops

    def plus(self, other: Compute) -> Compute:
        return Compute(
            self.train_tokens + other.train_tokens,
            self.train_flops + other.train_flops,
            self.generation_tokens + other.generation_tokens,
            self.generation_flops + other.generation_flops,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flops": self.flops}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Compute:
        data = data or {}
        return cls(
            int(data.get("train_tokens", 0)),
            float(data.get("train_flops", 0.0)),
            int(data.get("generation_tokens", 0)),
            float(data.get("generation_flops", 0.0)),
        )


@dataclass
class TokenCount:
    """Tokens a run has processed, for a trainer whose own count is not the compute's D (GRPO: the Trainer counts
    prompts and generated answers once; training also reads the feedback turns, and generation re-reads each
    turn's prompt). Kept in each checkpoint's ``run_compute`` and restored from it on resume."""

    train: int = 0
    """Tokens trained on (forward and backward): 6·N each."""
    generation: int = 0
    """Tokens processed while generating or in no-grad passes: 2·N each."""

    def compute(self, n_params: int) -> Compute:
        return training_compute(n_params, self.train).plus(generation_compute(n_params, self.generation))

    def restore(self, run_compute: dict[str, Any] | None) -> None:
        """Continue from a checkpoint's ``run_compute``."""
        self.train = int((run_compute or {}).get("train_tokens", 0))
        self.generation = int((run_compute or {}).get("generation_tokens", 0))


def trainable_parameters(model: Any) -> int:
    """Parameters the optimiser updates (for a LoRA model: its adapters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total_parameters(model: Any) -> int:
    """The model's size, the N of the FLOPs axis: every parameter, frozen or not, except adapter weights.

    For a PEFT (LoRA) model that is its base model's size: the adapters (``lora_A``/``lora_B``, and trainable
    copies of ``modules_to_save``) are left out, so a LoRA run and a full fine-tune of the same model count the
    same FLOPs per token. The adapters' own cost (2·r·(d_in + d_out) per adapted matrix, a few percent of N at
    r=16) is not charged. PPO adds its value head (hidden_size + 1) on top.
    """
    adapters: set[int] = set()
    tuners = sys.modules.get("peft.tuners.tuners_utils")  # a model with adapters was made by an imported peft
    if tuners is not None:
        for module in model.modules():  # also sees through DDP and other wrappers
            if isinstance(module, tuners.BaseTunerLayer):
                for name in module.adapter_layer_names:
                    part = getattr(module, name, None)
                    if part is not None:
                        adapters.update(id(p) for p in part.parameters())
            elif hasattr(module, "original_module") and hasattr(module, "modules_to_save"):
                adapters.update(id(p) for p in module.modules_to_save.parameters())
    return sum(p.numel() for p in model.parameters() if id(p) not in adapters)


def training_compute(n_params: int, tokens: int) -> Compute:
    return Compute(train_tokens=tokens, train_flops=6.0 * n_params * tokens)


def generation_compute(n_params: int, tokens: int) -> Compute:
    return Compute(generation_tokens=tokens, generation_flops=2.0 * n_params * tokens)
