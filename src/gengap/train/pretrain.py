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
from gengap.train.vision_tower import TowerPretrainConfig


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


VISION_JOINT_STEPS = 1200


def pretrain_vlm(
    base: str = "tiny-lm",
    *,
    max_steps: int = VISION_JOINT_STEPS,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    tower_learning_rate_factor: float = 0.2,
    tower: TowerPretrainConfig | None = None,
    skills: tuple[str, ...] = ("name_cards", "name_signs"),
    image_size: int = 160,
    output_dir: str | None = None,
    eval_steps: int = 0,
    eval_n: int = 50,
    naming_n: int = 64,
    seed: int = 0,
) -> Path:
    """A vision tower and projector around a pretrained language model (``tiny-lm`` → ``tiny-vlm``), taught to
    name what images show: cards of every rank, suit and colour, and shop signs in street views.

    Two stages, as real VLMs are built: the tower is pretrained alone on a dense card-reading objective
    (:mod:`gengap.train.vision_tower`; ``tower.steps=0`` skips it), then tower, projector and language model
    learn together on the naming corpus, the tower at ``tower_learning_rate_factor`` times the rate of the rest
    so that what it learnt is kept. Without the first stage the tower stays at chance at CPU budgets. At the end,
    naming accuracy on ``naming_n`` fresh images of each kind goes to ``naming.json`` (0 skips it).
    """
    import datasets

    from gengap.models.registry import builtin_path, load
    from gengap.models.vlm import VisionTowerConfig, attach_vision
    from gengap.train.corpus import vision_corpus

    lm = load(base)
    model, processor = attach_vision(lm.model, lm.tokenizer, VisionTowerConfig(image_size=image_size, seed=seed))
    tower = tower if tower is not None else TowerPretrainConfig(seed=seed)
    out = Path(output_dir) if output_dir else builtin_path(f"{base}-vlm" if base != "tiny-lm" else "tiny-vlm")
    tower_report: dict[str, Any] = {"steps": 0}
    if tower.steps:
        tower_report = _cached_tower(model, processor, tower, out)
    rows = list(vision_corpus(max_steps * batch_size, image_size, seed, skills=tuple(skills)))
    dataset = datasets.Dataset.from_list([{"messages": r["messages"], "images": r["images"]} for r in rows])
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
    vision = {
        "tower": asdict(VisionTowerConfig(image_size=image_size, seed=seed)),
        "tower_pretraining": tower_report,
        "skills": list(skills),
        "tower_learning_rate_factor": tower_learning_rate_factor,
    }
    compute = dict(lm.meta.get("compute") or {})
    if tower_report.get("flops"):
        compute["flops"] = compute.get("flops", 0) + tower_report["flops"]
    parent = {"model": base, "compute": compute, "pretrain": {"vision": vision}}
    trainer = train(
        run,
        model=model,
        tokenizer=processor,
        train_dataset=dataset,
        parent=parent,
        kind="pretrain-vision",
        lr_multipliers={"vision_tower": tower_learning_rate_factor},
    )
    if naming_n and trainer.is_world_process_zero():
        from gengap.core.io import atomic_write_json
        from gengap.train.vision_eval import naming_accuracy

        report = naming_accuracy(trainer.model, processor, n=naming_n, image_size=image_size)
        atomic_write_json(out / "naming.json", report)
        print(
            f"naming on fresh images: {report['card_accuracy']:.0%} of cards (chance "
            f"{report['chance_card_accuracy']:.0%}), {report['card_lists_exact']:.0%} of tables exact, "
            f"{report['sign_recall']:.0%} of shop signs, intersection {report['intersection_accuracy']:.0%}"
            f" (written to {out / 'naming.json'})",
            flush=True,
        )
    return out


def _cached_tower(model: Any, processor: Any, cfg: TowerPretrainConfig, out: Path) -> dict[str, Any]:
    """Stage 1, written to ``out/vision_tower/`` so that resuming the joint stage does not redo it."""
    import json

    import safetensors.torch

    from gengap.core.io import atomic_write_text
    from gengap.train.vision_tower import pretrain_tower

    folder = out / "vision_tower"
    report_path = folder / "report.json"
    tower = model.model.vision_tower
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        if {k: report.get(k) for k in cfg.to_dict()} == cfg.to_dict():
            safetensors.torch.load_model(tower, str(folder / "model.safetensors"))
            print(f"vision tower: reusing the pretrained tower in {folder}", flush=True)
            return report
    report = pretrain_tower(model, processor, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_model(tower, str(folder / "model.safetensors"))
    atomic_write_text(report_path, json.dumps(report, indent=2))
    print(
        f"vision tower: {report['patch_rank_accuracy']:.0%} of card patches' ranks and "
        f"{report['patch_suit_accuracy']:.0%} of their suits read right on fresh tables",
        flush=True,
    )
    return report
