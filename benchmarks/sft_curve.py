"""The tiny-lm study curve: pretraining on the general-skill corpus, then SFT on GP-L ID expert data.

Not a test: a measured experiment. Every ``--eval-steps`` it plays fixed greedy evaluation sets (compact
prompts, one attempt) and records ID success, OOD-rule success, rule accuracy, training-rule rate and format
validity against CPU time and FLOPs; the table goes to ``runs/sft-curve/curve.md``.

    make curve      # = .venv/bin/python benchmarks/sft_curve.py (the defaults below)

The defaults are the fast configuration sized for the issue's 15-CPU-minute budget, pretraining included: a
0.8M-parameter tiny-lm (width 128, 4 heads, MLP 384), 600 pretraining steps on a rule-heavy mixture
(rule_values weight 8) at lr 3e-3, then 600 SFT steps at lr 2e-3 on 5,000 GP-L ID conversations whose expert
formula is always the shortest canonical one. The built-in ``tiny-lm`` (``gengap pretrain``) is the slower,
better base: width 192, 1,500 steps, 78 % rule accuracy on the unseen rule.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from gengap.core.report import write_tables
from gengap.gp.expert import write_dataset
from gengap.gp.game import GeneralPoints
from gengap.models.tiny import TinyLMConfig
from gengap.train.corpus import CorpusConfig
from gengap.train.pretrain import PretrainConfig, pretrain
from gengap.train.sft import SFTRunConfig, train


def rows_of(path: Path, phase: str, t0: float) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        ood, idd = r["ood-rule"], r["id"]
        rows.append(
            {
                "phase": phase,
                "step": r["step"],
                "PFLOPs": f"{r['flops'] / 1e15:.3f}",
                "ID success": f"{idd['success']:.2f}",
                "OOD-rule success": f"{ood['success']:.2f}",
                "OOD rule acc": f"{ood['rule_accuracy']:.2f}",
                "OOD train-rule rate": f"{ood['train_rule_rate']:.2f}",
                "ID valid": f"{idd['format_validity']:.2f}",
                "OOD valid": f"{ood['format_validity']:.2f}",
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="runs/sft-curve")
    p.add_argument("--pretrain-steps", type=int, default=600)
    p.add_argument("--sft-steps", type=int, default=600)
    p.add_argument("--eval-steps", type=int, default=100)
    p.add_argument("--eval-n", type=int, default=200)
    p.add_argument("--sft-examples", type=int, default=5000)
    p.add_argument("--sft-lr", type=float, default=2e-3)
    p.add_argument(
        "--corpus-weights",
        default="rule_values=8",
        help="pretraining mixture, e.g. rule_values=3,make_target=1 (default: the corpus's own weights)",
    )
    p.add_argument("--solution", default="shortest", choices=["random", "shortest"], help="expert formula choice")
    p.add_argument("--pretrain-lr", type=float, default=3e-3)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--intermediate-size", type=int, default=384)
    p.add_argument("--replay-ratio", type=float, default=0.0, help="share of pretraining corpus mixed into SFT")
    p.add_argument("--base", default=None, help="skip pretraining and start SFT from this base checkpoint")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    t0 = time.perf_counter()
    weights = {k: float(v) for k, v in (kv.split("=") for kv in args.corpus_weights.split(",") if kv)}
    base = Path(args.base) if args.base else None
    if base is None:
        base = pretrain(
            PretrainConfig(
                model=TinyLMConfig(
                    hidden_size=args.hidden_size, num_heads=args.num_heads, intermediate_size=args.intermediate_size
                ),
                learning_rate=args.pretrain_lr,
                corpus=CorpusConfig(weights={**CorpusConfig().weights, **weights}),
                max_steps=args.pretrain_steps,
                eval_steps=args.eval_steps,
                eval_n=args.eval_n,
                save_steps=args.pretrain_steps,
                output_dir=str(out / "base"),
            )
        )
    t_pre = time.perf_counter() - t0
    data = write_dataset(
        GeneralPoints(style="compact"),
        out / f"gp-l-id-{args.solution}.jsonl",
        n=args.sft_examples,
        seed=7,
        solution=args.solution,
    )
    train(
        SFTRunConfig(
            model=str(base),
            data=[str(data)],
            output_dir=str(out / "sft"),
            max_steps=args.sft_steps,
            learning_rate=args.sft_lr,
            save_steps=args.eval_steps,
            eval_steps=args.eval_steps,
            eval_n=args.eval_n,
            replay_ratio=args.replay_ratio,
        )
    )
    t_all = time.perf_counter() - t0
    pre_log = base / "eval.jsonl" if (base / "eval.jsonl").is_file() else base.parent / "eval.jsonl"
    rows = (rows_of(pre_log, "pretrain", t0) if pre_log.is_file() else []) + rows_of(
        out / "sft" / "eval.jsonl", "sft", t0
    )
    md, _ = write_tables(rows, out / "curve", title=f"tiny-lm: pretrain {t_pre:.0f} s, total {t_all:.0f} s")
    print(md.read_text())


if __name__ == "__main__":
    main()
