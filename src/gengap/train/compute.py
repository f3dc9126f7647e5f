"""Compute accounting, the study's x-axis: training costs 6·N·D, generation 2·N·D.

N counts trainable parameters, D real tokens (padding excluded). Each checkpoint carries a ``gengap.json``
with the compute of its own run plus everything its starting checkpoint had spent, so an SFT or RL branch
from Init is plotted from Init's spend onward.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gengap.core.io import atomic_write_json

META_FILE = "gengap.json"


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


def trainable_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def training_compute(n_params: int, tokens: int) -> Compute:
    return Compute(train_tokens=tokens, train_flops=6.0 * n_params * tokens)


def generation_compute(n_params: int, tokens: int) -> Compute:
    return Compute(generation_tokens=tokens, generation_flops=2.0 * n_params * tokens)


def read_meta(path: str | Path) -> dict[str, Any]:
    file = Path(path) / META_FILE
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{file} is not valid JSON ({err}); restore it or delete it") from None


def write_meta(path: str | Path, meta: dict[str, Any]) -> Path:
    return atomic_write_json(Path(path) / META_FILE, meta)
