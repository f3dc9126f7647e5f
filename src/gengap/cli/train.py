"""``gengap pretrain`` and ``gengap sft``."""

from __future__ import annotations

from gengap.core.config import check_output, parse_config
from gengap.train.config import PretrainRunConfig, SFTRunConfig


def run(command: str, argv: list[str]) -> int:
    if command == "sft":
        cfg = parse_config(SFTRunConfig, argv, prog="gengap sft")
        check_sft_inputs(cfg)
        from gengap.train.sft import train

        train(cfg)
        print(f"SFT model written to {cfg.output_dir}")
        return 0
    cfg = parse_config(PretrainRunConfig, argv, prog="gengap pretrain")
    check_pretrain_inputs(cfg)
    print(f"base model written to {pretrain(cfg)}")
    return 0


def check_sft_inputs(cfg: SFTRunConfig) -> None:
    """What ``gengap sft`` reads, checked before the model loads: every data file (rows, conversations with an
    assistant turn, images), the starting model (:func:`gengap.models.registry.resolve`) and the evaluation
    during training (its game, style and splits would otherwise fail at its first evaluation step)."""
    from gengap.core.data import check_data_file
    from gengap.core.game import make_game
    from gengap.models.registry import resolve

    if not cfg.data:
        raise ValueError("no SFT data given; write some with `gengap data --game gp --out data.jsonl` and pass --data")
    for path in cfg.data:
        check_data_file(path)
    if cfg.eval_steps:
        for split in cfg.eval_splits:
            make_game(cfg.eval_game, split=split, style=cfg.eval_style)
    resolve(cfg.model)


def check_pretrain_inputs(cfg: PretrainRunConfig) -> None:
    """The base a VLM is built around must exist, and the default output (gengap's cache) must be writable."""
    from gengap.models.registry import builtin_path, resolve

    if cfg.model != "tiny-lm":
        resolve(cfg.language_base())
    if cfg.output_dir is None:
        check_output(builtin_path(cfg.model), "folder", "--output-dir (default: the model's cache folder)")


def pretrain(cfg: PretrainRunConfig):
    """Build the built-in base ``cfg.model`` (the language model, or the vision side around one)."""
    from gengap.models.tiny import TinyLMConfig
    from gengap.train.corpus import CorpusConfig
    from gengap.train.pretrain import VISION_JOINT_STEPS, PretrainConfig, pretrain, pretrain_vlm
    from gengap.train.vision_tower import TowerPretrainConfig

    if cfg.model in ("tiny-vlm", "smollm2-135m-vlm"):
        return pretrain_vlm(
            cfg.language_base(),
            max_steps=cfg.max_steps or VISION_JOINT_STEPS,
            batch_size=cfg.batch_size or 16,
            learning_rate=cfg.learning_rate or 1e-3,
            tower=TowerPretrainConfig(steps=1500 if cfg.tower_steps is None else cfg.tower_steps, seed=cfg.seed),
            skills=tuple(cfg.vision_skills.split(",")),
            output_dir=cfg.output_dir,
            eval_steps=cfg.eval_steps,
            eval_n=cfg.eval_n,
            seed=cfg.seed,
        )
    corpus = CorpusConfig(seed=cfg.seed)
    if cfg.weights():
        corpus = CorpusConfig(weights={**corpus.weights, **cfg.weights()}, seed=cfg.seed)
    run_cfg = PretrainConfig(
        corpus=corpus,
        model=TinyLMConfig(
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
        ),
        max_steps=cfg.max_steps or PretrainConfig.max_steps,
        per_device_train_batch_size=cfg.batch_size or PretrainConfig.per_device_train_batch_size,
        learning_rate=cfg.learning_rate or PretrainConfig.learning_rate,
        save_steps=cfg.save_steps,
        eval_steps=cfg.eval_steps,
        eval_n=cfg.eval_n,
        output_dir=cfg.output_dir,
    )
    return pretrain(run_cfg, cfg.model)
