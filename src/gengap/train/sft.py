"""Supervised fine-tuning on expert conversations with TRL's ``SFTTrainer``.

Loss on assistant turns only (the chat template marks them), single- or multi-turn data, full fine-tuning or
LoRA, checkpoints every ``save_steps`` with the tokens and FLOPs spent beside each, automatic and exact resume
from the last complete checkpoint (:func:`~gengap.train.callbacks.train_to_the_end`), and the same script
under ``accelerate launch`` with several processes.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from gengap.core.checkpoint import write_meta
from gengap.core.config import save_config, shaping
from gengap.core.io import guard_settings
from gengap.models.processing import is_vision
from gengap.train.config import SFTRunConfig

__all__ = ["SFTRunConfig", "train"]


def load_conversations(paths: list[str]) -> Any:
    """The ``messages`` (and, for vision data, ``images``) columns of JSON-lines files, as one ``Dataset``."""
    import datasets

    from gengap.core.data import load_dataset

    if not paths:
        raise ValueError("no SFT data given; write some with `gengap data --game gp --out data.jsonl` and pass --data")
    parts = []
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"SFT data file {p} does not exist; create it with `gengap data --out {p}`")
        ds = load_dataset(p)
        if "messages" not in ds.column_names:
            raise ValueError(f"{p} has no 'messages' column; SFT data must be chat conversations")
        parts.append(ds.select_columns([c for c in ("messages", "images") if c in ds.column_names]))
    if len({tuple(sorted(p.column_names)) for p in parts}) > 1:
        raise ValueError("mixing text-only and image data files in one SFT run is not supported; train them apart")
    return datasets.concatenate_datasets(parts)


def with_replay(dataset: Any, ratio: float, seed: int, pretrain_meta: dict[str, Any] | None = None) -> Any:
    """Mix ``ratio`` of pretraining-corpus conversations into ``dataset``.

    Replay draws from the base model's own pretraining mixture (recorded in its ``gengap.json``) so that it
    rehearses what the base learnt; a base without that record (a Hub model) gets the default mixture. A seed
    other than the pretraining one gives fresh examples of the same skills.
    """
    if ratio <= 0:
        return dataset
    import datasets

    from gengap.train.corpus import CorpusConfig, corpus

    recorded = (pretrain_meta or {}).get("corpus") or {}
    fields = {k: v for k, v in recorded.items() if k in CorpusConfig.__dataclass_fields__ and k != "seed"}
    cfg = CorpusConfig(**fields, seed=seed + 1)
    n = round(len(dataset) * ratio / (1 - ratio))
    replay = datasets.Dataset.from_list([{"messages": r["messages"]} for r in corpus(cfg, n)])
    return datasets.concatenate_datasets([dataset, replay.cast(dataset.features)]).shuffle(seed=seed)


def _trainer_class(base: type, lr_multipliers: dict[str, float] | None) -> type:
    """``base``, or a subclass whose optimizer gives some parameters a scaled learning rate.

    Done in ``create_optimizer``, which the Trainer calls after ``accelerate`` has wrapped the model, so it
    holds under DDP, DeepSpeed and FSDP alike; the schedule then scales every group's rate the same way.
    """
    if not lr_multipliers:
        return base
    multipliers = dict(lr_multipliers)

    class ScaledLRTrainer(base):  # type: ignore[misc, valid-type]
        def create_optimizer(self, model: Any = None) -> Any:
            optimizer = super().create_optimizer(model)
            names = {id(p): n for n, p in (model or self.model).named_parameters()}
            groups = []
            for group in optimizer.param_groups:
                by_factor: dict[float, list[Any]] = {}
                for p in group["params"]:
                    name = names.get(id(p), "")
                    factor = next((f for key, f in multipliers.items() if key in name), 1.0)
                    by_factor.setdefault(factor, []).append(p)
                for factor, params in by_factor.items():
                    groups.append({**group, "params": params, "lr": group["lr"] * factor})
            optimizer.param_groups.clear()  # nothing has stepped yet: the optimizer holds no state
            for group in groups:
                optimizer.add_param_group(group)
            return optimizer

    return ScaledLRTrainer


def train(
    cfg: SFTRunConfig,
    *,
    model: Any = None,
    tokenizer: Any = None,
    train_dataset: Any = None,
    parent: dict[str, Any] | None = None,
    kind: str = "sft",
    callbacks: list[Any] | None = None,
    lr_multipliers: dict[str, float] | None = None,
) -> Any:
    """Run SFT (or, with ``kind="pretrain"``, pretraining); return the trainer. Resumes when it can.

    ``lr_multipliers`` scales the learning rate of the parameters whose name contains a key (e.g.
    ``{"vision_tower": 0.2}``: a pretrained part that should move slower than the rest).
    """
    import torch
    from trl import SFTConfig, SFTTrainer

    from gengap.models.registry import load
    from gengap.train.callbacks import ComputeCallback, EvalCallback, resume_point, train_to_the_end

    if model is None:
        loaded = load(cfg.model)
        model, tokenizer, parent = loaded.model, loaded.tokenizer, loaded.meta
    parent = parent or {}
    dataset = train_dataset if train_dataset is not None else load_conversations(cfg.data)
    dataset = with_replay(dataset, cfg.replay_ratio, cfg.seed, parent.get("pretrain"))
    on_gpu = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=cfg.output_dir,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        save_steps=cfg.save_steps,
        logging_steps=cfg.logging_steps,
        max_length=cfg.max_length,
        # Vision rows are tokenized on the fly, so their lengths are unknown to a length-grouped sampler.
        train_sampling_strategy="random" if "images" in dataset.column_names else cfg.train_sampling_strategy,
        seed=cfg.seed,
        assistant_only_loss=True,
        include_num_input_tokens_seen="non_padding",
        bf16=on_gpu,  # TRL defaults to bf16, which is many times slower than fp32 on most CPUs
        gradient_checkpointing=cfg.gradient_checkpointing == "on" or (cfg.gradient_checkpointing == "auto" and on_gpu),
        use_cpu=not on_gpu,
        report_to=cfg.report_to,
        dataloader_num_workers=0,
        save_only_model=False,
    )
    peft_config = cfg.lora_config() if cfg.use_peft else None
    run_meta = {"kind": kind, "model": cfg.model, "config": asdict(cfg)}
    compute = ComputeCallback(parent, run_meta)
    cbs = [compute, *(callbacks or [])]
    if cfg.eval_steps:
        from gengap.core.game import make_game

        size = getattr(getattr(tokenizer, "image_processor", None), "crop_size", None) or {}
        game = make_game(
            cfg.eval_game,
            style=cfg.eval_style,
            verify_iter=1,
            vision=is_vision(tokenizer),  # a vision-language model is evaluated on the vision form
            image_size=size.get("height"),
        )
        cbs.append(EvalCallback(tokenizer, game, list(cfg.eval_splits), cfg.eval_n, cfg.eval_steps, compute))
    trainer = _trainer_class(SFTTrainer, lr_multipliers)(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=cbs,
    )
    if train_dataset is None and len(trainer.train_dataset) == 0:  # before the folder is claimed
        raise ValueError(
            f"no conversation in {', '.join(cfg.data)} keeps an answer within --max-length {cfg.max_length} tokens "
            "(truncation removed them all); raise --max-length or write shorter data (e.g. --style compact)"
        )
    # Resuming continues the same run: refuse when what shapes the weights (model, data, schedule) changed.
    settings = shaping(cfg)
    if parent.get("pretrain"):  # the base model's own corpus and architecture (built-in bases)
        settings["base_pretraining"] = parent["pretrain"]
    guard_settings(Path(cfg.output_dir) / "gengap_run.json", settings)
    if kind == "sft" and trainer.is_world_process_zero():
        save_config(cfg, cfg.output_dir)  # `gengap sft --config <output_dir>/config.yaml` reruns or resumes it
    # The final files are rewritten from the last checkpoint whatever a crash left of them; gengap.json last.
    train_to_the_end(trainer, resume_point(cfg.output_dir, trainer, cfg.resume), compute)
    trainer.save_model(cfg.output_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(cfg.output_dir)
        write_meta(cfg.output_dir, compute.meta(trainer.state))
    # Every process waits until the final files are written, so none exits while another still needs it.
    trainer.accelerator.wait_for_everyone()
    return trainer
