"""The RL experiment of issue 5: PPO from an SFT Init raises ID success; PPO from the un-fine-tuned base does not.

Not a test: a measured experiment on CPU. Each branch runs turn-level PPO on GP-L ID (compact prompts, the
multi-turn verifier) for ``--updates`` updates and, every ``--eval-every`` updates, plays the same greedy,
single-attempt evaluation sets (ID and OOD-rule) as the SFT curve. The table goes to ``<out>/rl.md``.

    .venv/bin/python benchmarks/rl_experiment.py --init runs/g24a/sft --base runs/g24a/base
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from gengap.core.io import atomic_write_text, read_jsonl
from gengap.gp.game import GeneralPoints
from gengap.models.registry import load
from gengap.rl.config import RLConfig
from gengap.rl.ppo import train_ppo
from gengap.train.callbacks import evaluate_splits


def _evaluate(path: str, n: int) -> dict:
    loaded = load(path)
    game = GeneralPoints(style="compact", verify_iter=1)
    return {
        "compute": (loaded.meta.get("compute") or {}).get("flops", 0.0),
        **evaluate_splits(loaded.model, loaded.tokenizer, game, ["id", "ood-rule"], n),
    }


def branch(name: str, start: str, args: argparse.Namespace, out: Path) -> list[dict]:
    rows = [{"branch": name, "update": 0, "seconds": 0.0, "reward": math.nan, **_evaluate(start, args.eval_n)}]
    t0 = time.perf_counter()
    for upto in range(args.eval_every, args.updates + 1, args.eval_every):
        cfg = RLConfig(
            model=start,
            style="compact",
            output_dir=str(out / name),
            updates=upto,  # resumes from the previous chunk's checkpoint (constant LR, so the schedule agrees)
            episodes_per_update=args.episodes,
            rollout_batch_size=args.episodes,
            minibatch_size=args.minibatch,
            epochs=args.epochs,
            learning_rate=args.lr,
            verify_iter=args.verify_iter,
            temperature=args.temperature,
            max_new_tokens=48,
            save_every=args.eval_every,
            seed=args.seed,
        )
        last = train_ppo(cfg)
        rows.append(
            {
                "branch": name,
                "update": upto,
                "seconds": time.perf_counter() - t0,
                "reward": last["mean_turn_reward"],
                **_evaluate(str(out / name / f"checkpoint-{upto}"), args.eval_n),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict], n: int) -> str:
    head = (
        "| branch | update | CPU s | PFLOPs | rollout turn reward | ID success | OOD-rule success | OOD rule acc | "
        "OOD train-rule rate |\n|---|---|---|---|---|---|---|---|---|\n"
    )

    def se(p: float) -> str:
        return f"{p:.3f} ± {math.sqrt(max(p * (1 - p), 1e-12) / n):.3f}"

    body = "".join(
        f"| {r['branch']} | {r['update']} | {r['seconds']:.0f} | {r['compute'] / 1e15:.4f} | {r['reward']:+.2f} | "
        f"{se(r['id']['success'])} | {se(r['ood-rule']['success'])} | {r['ood-rule']['rule_accuracy']:.2f} | "
        f"{r['ood-rule']['train_rule_rate']:.2f} |\n"
        for r in rows
    )
    return head + body


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--init", required=True, help="SFT checkpoint (Init)")
    p.add_argument("--base", default=None, help="the un-fine-tuned base, for the 'SFT is necessary' branch")
    p.add_argument("--out", default="runs/rl-experiment")
    p.add_argument("--updates", type=int, default=16)
    p.add_argument("--eval-every", type=int, default=4)
    p.add_argument("--eval-n", type=int, default=200)
    p.add_argument("--episodes", type=int, default=64)
    p.add_argument("--minibatch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--verify-iter", type=int, default=5)
    p.add_argument("--temperature", type=float, default=0.2, help="rollout sampling temperature (the paper: 0.2)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    rows = [r for r in read_jsonl(out / "rows.jsonl")]
    done = {r["branch"] for r in rows if r["update"] == args.updates}
    for name, start in (("init", args.init), ("base", args.base)):
        if start is None or name in done:
            continue
        rows = [r for r in rows if r["branch"] != name] + branch(name, start, args, out)
        atomic_write_text(out / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    md = table(rows, args.eval_n)
    atomic_write_text(out / "rl.md", md)
    print(md)


if __name__ == "__main__":
    main()
