"""Pretraining of the built-in base models on the general-skill corpus (``gengap pretrain``).

The result is cached as the built-in model (``tiny-lm`` resolves to it) and reused by every later run, so the
study's base model is built once per machine, reproducibly from its config and seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gengap.models.tiny import TinyLMConfig
from gengap.train.corpus import CorpusConfig
from gengap.train.sft import SFTRunConfig, train


@dataclass
class PretrainConfig:
    model: TinyLMConfig = field(default_factory=TinyLMConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    max_steps: int = 1500
    per_device_train_batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: float = 0.03
    save_steps: int = 200
    eval_steps: int = 0
    eval_n: int = 100
    output_dir: str | None = None
    """Where to write the base model; default: the built-in model's cache folder."""


def pretrain(cfg: PretrainConfig, name: str = "tiny-lm") -> Path:
    import datasets

    from gengap.models.registry import builtin_path
    from gengap.models.tiny import build_tiny_lm
    from gengap.train.corpus import corpus

    out = Path(cfg.output_dir) if cfg.output_dir else builtin_path(name)
    model, tokenizer = build_tiny_lm(cfg.model)
    n = cfg.max_steps * cfg.per_device_train_batch_size
    rows = [{"messages": r["messages"]} for r in corpus(cfg.corpus, n)]
    dataset = datasets.Dataset.from_list(rows)
    run = SFTRunConfig(
        model=f"{name} (untrained)",
        output_dir=str(out),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_steps,
        save_steps=cfg.save_steps,
        eval_steps=cfg.eval_steps,
        eval_n=cfg.eval_n,
        eval_splits=["id", "ood-rule"],
    )
    extra: dict[str, Any] = {"architecture": asdict(cfg.model), "corpus": cfg.corpus.to_dict()}
    train(run, model=model, tokenizer=tokenizer, train_dataset=dataset, parent={"pretrain": extra}, kind="pretrain")
    return out


def pretrain_vlm(
    base: str = "tiny-lm",
    *,
    max_steps: int = 300,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    image_size: int = 160,
    output_dir: str | None = None,
    eval_steps: int = 0,
    eval_n: int = 50,
    seed: int = 0,
) -> Path:
    """A vision tower and projector around a pretrained language model (``tiny-lm`` → ``tiny-vlm``), taught to
    name cards.

    As in LLaVA's first stage, the language model arrives with its skills (here from ``gengap pretrain``) and
    the image side learns to describe pictures: cards of every rank, suit and colour.
    """
    import datasets

    from gengap.models.registry import builtin_path, load
    from gengap.models.vlm import VisionTowerConfig, attach_vision
    from gengap.train.corpus import vision_corpus

    lm = load(base)
    model, processor = attach_vision(lm.model, lm.tokenizer, VisionTowerConfig(image_size=image_size, seed=seed))
    rows = list(vision_corpus(max_steps * batch_size, image_size, seed))
    dataset = datasets.Dataset.from_list([{"messages": r["messages"], "images": r["images"]} for r in rows])
    out = Path(output_dir) if output_dir else builtin_path(f"{base}-vlm" if base != "tiny-lm" else "tiny-vlm")
    run = SFTRunConfig(
        model=f"vision around {base}",
        output_dir=str(out),
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        save_steps=max_steps,
        eval_steps=eval_steps,
        eval_n=eval_n,
        eval_splits=["id", "ood-visual"],
        max_length=1024,
    )
    tower = asdict(VisionTowerConfig(image_size=image_size, seed=seed))
    parent = {"model": base, "compute": lm.meta.get("compute"), "pretrain": {"vision": tower}}
    train(run, model=model, tokenizer=processor, train_dataset=dataset, parent=parent, kind="pretrain-vision")
    return out
