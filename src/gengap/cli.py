"""The ``gengap`` command line. Errors a user can cause end in one line that says what to fix."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _gp_game(args: argparse.Namespace, split: str | None = None):
    from gengap.gp.game import GeneralPoints
    from gengap.gp.splits import get_split

    return GeneralPoints(
        split=get_split(split or args.split),
        vision=args.vision,
        style=args.style,
        verify_iter=args.verify_iter,
        image_size=args.image_size,
    )


def _add_game_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    if split:
        p.add_argument("--split", default="id", help="split name (see `gengap gp splits`) or a .json split file")
    p.add_argument("--vision", action="store_true", help="GP-VL: cards shown only in an image")
    p.add_argument("--style", default="paper", choices=["paper", "compact"], help="prompt and answer style")
    p.add_argument("--verify-iter", type=int, default=5, help="attempts per episode (1 = single-turn)")
    p.add_argument("--image-size", type=int, default=1200, help="table image size in pixels (VL)")


def cmd_gp_eval(args: argparse.Namespace) -> int:
    from gengap.core.report import markdown_table
    from gengap.gp.evaluate import evaluate, table_row
    from gengap.gp.policies import get_policy

    splits = [s for s in args.splits.split(",") if s]
    if args.model:
        from gengap.models.generation import SamplingConfig
        from gengap.models.policy import ModelPolicy
        from gengap.models.registry import load

        loaded = load(args.model)
        sampling = SamplingConfig(temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed)
        decoding = "greedy" if args.temperature == 0 else f"sampled at temperature {args.temperature}"
        print(f"evaluating {args.model} ({decoding}, at most {args.max_new_tokens} new tokens per answer)")
        policies = {args.model: ModelPolicy(loaded.model, loaded.tokenizer, sampling)}
    else:
        policies = {name: get_policy(name) for name in args.policies.split(",") if name}
    game = _gp_game(args, splits[0])
    summaries = evaluate(policies, game, splits, n=args.n, seed=args.seed, out=args.out, progress=not args.quiet)
    print(markdown_table([table_row(s) for s in summaries]))
    print(f"wrote {Path(args.out) / 'episodes.jsonl'}, summary.json, summary.md, summary.csv")
    return 0


def cmd_gp_show(args: argparse.Namespace) -> int:
    from gengap.gp.render import save_png

    game = _gp_game(args)
    ep = game.episode(args.seed, cards=args.cards.split(",") if args.cards else None)
    path = save_png(ep.image, args.out)
    print(
        f"{path}: {' '.join(ep.hand.ranks)} ({', '.join(ep.hand.suits)}), values {list(ep.values)}, "
        f"target {ep.target}, e.g. {ep.solutions[0] if ep.solutions else 'no solution'}"
    )
    return 0


def cmd_gp_data(args: argparse.Namespace) -> int:
    from gengap.gp.expert import write_dataset

    game = _gp_game(args)
    path = write_dataset(
        game,
        args.out,
        n=args.n,
        seed=args.seed,
        kind=args.kind,
        thought=args.thought,
        solution=args.solution,
        progress=not args.quiet,
    )
    print(f"wrote {args.n} {args.kind} conversations to {path}")
    return 0


def cmd_gp_play(args: argparse.Namespace) -> int:
    from gengap.gp.play import play

    solved = play(_gp_game(args), args.seed)
    return 0 if solved else 1


def cmd_gp_splits(args: argparse.Namespace) -> int:
    from gengap.gp.splits import SPLITS

    for name, split in SPLITS.items():
        print(f"{name:16} {split.description}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from gengap.models.tiny import TinyLMConfig
    from gengap.train.corpus import CorpusConfig
    from gengap.train.pretrain import PretrainConfig, pretrain

    corpus = CorpusConfig(seed=args.seed)
    if args.corpus_weights:
        try:
            weights = {k: float(v) for k, v in (item.split("=") for item in args.corpus_weights.split(","))}
        except ValueError:
            raise ValueError("--corpus-weights takes skill=weight pairs, e.g. rule_values=3,make_target=1") from None
        corpus = CorpusConfig(weights={**corpus.weights, **weights}, seed=args.seed)
    cfg = PretrainConfig(
        corpus=corpus,
        model=TinyLMConfig(
            hidden_size=args.hidden_size,
            num_layers=args.num_layers,
            num_heads=args.num_heads,
            intermediate_size=args.intermediate_size,
        ),
        max_steps=args.max_steps or PretrainConfig.max_steps,
        per_device_train_batch_size=args.batch_size or PretrainConfig.per_device_train_batch_size,
        learning_rate=args.learning_rate or PretrainConfig.learning_rate,
        save_steps=args.save_steps,
        eval_steps=args.eval_steps,
        eval_n=args.eval_n,
        output_dir=args.output_dir,
    )
    if args.model in ("tiny-vlm", "smollm2-135m-vlm"):
        from gengap.train.pretrain import VISION_JOINT_STEPS, pretrain_vlm
        from gengap.train.vision_tower import TowerPretrainConfig

        path = pretrain_vlm(
            "smollm2-135m" if args.model == "smollm2-135m-vlm" else args.base,
            max_steps=args.max_steps or VISION_JOINT_STEPS,
            batch_size=args.batch_size or 16,
            learning_rate=args.learning_rate or 1e-3,
            tower=TowerPretrainConfig(steps=1500 if args.tower_steps is None else args.tower_steps, seed=args.seed),
            skills=tuple(args.vision_skills.split(",")),
            output_dir=args.output_dir,
            eval_steps=args.eval_steps,
            eval_n=args.eval_n,
            seed=args.seed,
        )
    else:
        path = pretrain(cfg, args.model)
    print(f"base model written to {path}")
    return 0


def cmd_sft(args: argparse.Namespace) -> int:
    from gengap.core.cli_config import from_args
    from gengap.train.sft import SFTRunConfig, train

    cfg = from_args(SFTRunConfig, args)
    train(cfg)
    print(f"SFT model written to {cfg.output_dir}")
    return 0


def _virl_game(args: argparse.Namespace):
    from gengap.virl.game import VIRL
    from gengap.virl.splits import get_split

    return VIRL(
        world=args.world,
        split=get_split(args.split),
        vision=args.vision,
        style=args.style,
        verify_iter=args.verify_iter,
        image_size=args.image_size,
    )


def _add_virl_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--world",
        default="helsinki",
        help="helsinki, karhula, grid, an .osm.pbf extract, a reference-format folder or a world .json",
    )
    p.add_argument("--split", default="id", help="id, ood-rule, ood-place or ood-visual (see `gengap virl splits`)")
    p.add_argument("--vision", action="store_true", help="V-IRL-VL: observations are street-view images")
    p.add_argument("--style", default="paper", choices=["paper", "compact"], help="prompt and answer style")
    p.add_argument("--verify-iter", type=int, default=2, help="attempts per route point")
    p.add_argument("--image-size", type=int, default=512, help="size of the 2x2 street-view image (VL)")


def cmd_virl_data(args: argparse.Namespace) -> int:
    from gengap.virl.expert import write_dataset

    path = write_dataset(_virl_game(args), args.out, n=args.n, seed=args.seed, kind=args.kind, progress=not args.quiet)
    what = f"{args.n} routes" if args.kind == "routes" else f"the {args.kind} conversations of {args.n} routes"
    print(f"wrote {what} to {path}")
    return 0


def cmd_virl_show(args: argparse.Namespace) -> int:
    from gengap.virl.render import render_map, render_views, save_png

    game = _virl_game(args)
    route = game.route(args.seed)
    world = game.the_world
    index = args.point if args.point >= 0 else next((i for i, p in enumerate(route.rail) if p.intersection), 0)
    if not 0 <= index < len(route.rail):
        raise ValueError(f"--point must be below {len(route.rail)}, the number of points on this route")
    out = Path(args.out)
    views = save_png(render_views(world, route, index, style=game.split.style, size=args.image_size), out / "views.png")
    route_map = save_png(render_map(world, route), out / "map.png")
    print(route.instruction_text())
    print(
        f"route {route.id}: {len(route.rail)} points, {route.length:.0f} m; views at point {index} -> {views}; "
        f"map -> {route_map}"
    )
    return 0


def cmd_virl_play(args: argparse.Namespace) -> int:
    from gengap.virl.play import play

    return 0 if play(_virl_game(args), args.seed) else 1


def cmd_virl_splits(args: argparse.Namespace) -> int:
    from gengap.virl.splits import SPLITS

    for name, split in SPLITS.items():
        print(f"{name:12} {split.description}")
    return 0


def cmd_rl(args: argparse.Namespace) -> int:
    from gengap.core.cli_config import from_args

    if args.algo == "grpo":
        from gengap.rl.grpo import GRPORunConfig, train_grpo

        grpo = from_args(GRPORunConfig, args)
        trainer = train_grpo(grpo)
        rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
        print(
            f"GRPO model written to {grpo.output_dir}: step {trainer.state.global_step}, last mean episode return "
            f"{rewards[-1] if rewards else float('nan'):+.3f}"
        )
        return 0
    if args.algo != "ppo":
        raise ValueError(f"unknown --algo {args.algo!r}; available: ppo, grpo")
    from gengap.rl.ppo import PPOConfig, train_ppo

    cfg = from_args(PPOConfig, args)
    row = train_ppo(cfg)
    if row:
        print(
            f"PPO model written to {cfg.output_dir}: update {row['update']}, mean turn reward "
            f"{row['mean_turn_reward']:+.3f}, success {row['success_rate']:.3f}; log in {cfg.output_dir}/log.jsonl"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gengap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gp = sub.add_parser("gp", help="GeneralPoints: evaluate, render, write SFT data, play").add_subparsers(
        dest="gp_command", required=True
    )

    p = gp.add_parser("eval", help="play the evaluation sets with scripted policies and write reports")
    _add_game_args(p, split=False)
    p.add_argument("--policies", default="oracle,rule-reader,rule-blind,noisy,random", help="scripted policies")
    p.add_argument("--model", default=None, help="evaluate a model (checkpoint folder, built-in name or Hub id)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy decoding")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--splits", default="id,ood-rule,ood-visual,fake-rule")
    p.add_argument("--n", type=int, default=234, help="episodes per split (the paper uses 234)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/gp-eval", help="output folder (rerun to resume)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_gp_eval)

    p = gp.add_parser("show", help="render a hand as a PNG")
    _add_game_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cards", default=None, help="fixed ranks, e.g. 3,3,8,8")
    p.add_argument("--out", default="hand.png")
    p.set_defaults(func=cmd_gp_show)

    p = gp.add_parser("data", help="write expert SFT conversations as JSON lines")
    _add_game_args(p)
    p.add_argument("--kind", default="optimal", choices=["optimal", "suboptimal"])
    p.add_argument("--thought", action="store_true", help="add a short reasoning field to each answer")
    p.add_argument(
        "--solution",
        default="random",
        choices=["random", "shortest"],
        help="which of a hand's solutions the expert writes: any (random) or always the same canonical one",
    )
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/gp-data/train.jsonl")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_gp_data)

    p = gp.add_parser("play", help="play a hand in the terminal")
    _add_game_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gp_play)

    p = gp.add_parser("splits", help="list the named splits")
    p.set_defaults(func=cmd_gp_splits)

    virl = sub.add_parser("virl", help="V-IRL navigation: write routes and SFT data, render views, play")
    virl = virl.add_subparsers(dest="virl_command", required=True)
    p = virl.add_parser("data", help="write routes (one per line) or expert SFT conversations as JSON lines")
    _add_virl_args(p)
    p.add_argument("--kind", default="routes", choices=["routes", "optimal", "suboptimal"])
    p.add_argument("--n", type=int, default=1000, help="number of routes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/virl-data/routes.jsonl")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_virl_data)

    p = virl.add_parser("show", help="render a route's street views and its map as PNG files")
    _add_virl_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--point", type=int, default=-1, help="rail point to render (default: the first turn)")
    p.add_argument("--out", default="runs/virl-show", help="output folder")
    p.set_defaults(func=cmd_virl_show)

    p = virl.add_parser("play", help="walk a route in the terminal")
    _add_virl_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_virl_play)

    p = virl.add_parser("splits", help="list the named V-IRL splits")
    p.set_defaults(func=cmd_virl_splits)

    p = sub.add_parser("pretrain", help="pretrain a built-in base model on the general-skill corpus")
    p.add_argument("--model", default="tiny-lm", choices=["tiny-lm", "tiny-vlm", "smollm2-135m-vlm"])
    p.add_argument("--base", default="tiny-lm", help="tiny-vlm only: the language model it is built around")
    p.add_argument("--max-steps", type=int, default=None, help="default 1500 (tiny-lm), 1200 (joint VLM stage)")
    p.add_argument("--batch-size", type=int, default=None, help="default 32 (tiny-lm), 16 (VLM)")
    p.add_argument("--learning-rate", type=float, default=None, help="default 2e-3 (tiny-lm), 1e-3 (VLM)")
    p.add_argument(
        "--tower-steps", type=int, default=None, help="VLM: steps of the vision tower's own pretraining (1500; 0 skips)"
    )
    p.add_argument(
        "--vision-skills", default="name_cards,name_signs", help="VLM: the naming corpus (name_cards, name_signs)"
    )
    p.add_argument("--hidden-size", type=int, default=192)
    p.add_argument("--num-layers", type=int, default=4)
    p.add_argument("--num-heads", type=int, default=3)
    p.add_argument("--intermediate-size", type=int, default=512)
    p.add_argument("--save-steps", type=int, default=200)
    p.add_argument("--eval-steps", type=int, default=0, help="evaluate GP (compact) every N steps")
    p.add_argument("--eval-n", type=int, default=100)
    p.add_argument("--output-dir", default=None, help="default: the built-in model's cache folder")
    p.add_argument("--corpus-weights", default="", help="mixture, e.g. rule_values=3,make_target=1")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("sft", help="supervised fine-tuning on expert conversations (TRL SFTTrainer)")
    from gengap.core.cli_config import add_dataclass_args
    from gengap.train.sft import SFTRunConfig

    add_dataclass_args(p, SFTRunConfig)
    p.set_defaults(func=cmd_sft)

    p = sub.add_parser("rl", help="reinforcement learning from Init with the games' verifiers (turn-level PPO)")
    from gengap.rl.grpo import GRPORunConfig
    from gengap.rl.ppo import PPOConfig

    p.add_argument("--algo", default="ppo", help="ppo (turn-level PPO as in the paper) or grpo (TRL's GRPOTrainer)")
    add_dataclass_args(p, PPOConfig)
    shared = {f for f in PPOConfig.__dataclass_fields__}
    add_dataclass_args(p, GRPORunConfig, skip=tuple(shared))  # GRPO-only options; shared ones mean the same
    p.set_defaults(func=cmd_rl)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ok = False
    try:
        code = int(args.func(args))
        ok = True
        return code
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"gengap: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gengap: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        _end_distributed(barrier=ok)


def _end_distributed(barrier: bool) -> None:
    """Tear down a process group (from ``accelerate launch``/``torchrun``) before the interpreter exits.

    Left to interpreter shutdown, gloo's threads can abort a process ("terminate called without an active
    exception") after all work is done, and the launcher then reports the whole run as failed. No barrier after
    a failure: the other processes may never reach it.
    """
    dist = sys.modules.get("torch.distributed")  # never import torch for commands that did not
    if dist is not None and dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
