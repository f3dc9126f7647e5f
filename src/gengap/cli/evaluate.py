"""``gengap eval``: any game × models or scripted policies × splits, with the game's metrics and intervals."""

from __future__ import annotations

from pathlib import Path

from gengap.core.config import parse_config
from gengap.core.episode import episode_seed
from gengap.eval.config import EvalConfig


def run(command: str, argv: list[str]) -> int:
    from gengap.core.report import markdown_table
    from gengap.eval.evaluate import evaluate, table
    from gengap.eval.policies import make_policies

    cfg = parse_config(EvalConfig, argv, prog="gengap eval")
    game = cfg.make_game()
    splits = cfg.splits or game.eval_splits()
    for name in splits:  # a bad split name or world (a damaged .osm.pbf) fails before any model is loaded
        game.with_split(name).episode(episode_seed(cfg.seed, 0))
    policies = make_policies(cfg.model, game, cfg.sampling(seed=cfg.seed), batch_size=cfg.batch_size)
    scripted = set(game.policies())
    if any(m not in scripted for m in cfg.model):
        d = cfg.decoding()
        print(f"models answer {d['decoding']}, at most {d['max_new_tokens']} new tokens per answer")
    summaries = evaluate(
        policies,
        game,
        splits,
        n=cfg.n,
        seed=cfg.seed,
        out=cfg.out,
        batch_size=cfg.batch_size,
        progress=not cfg.quiet,
        decoding=cfg.decoding(),
        config=cfg,
    )
    print(markdown_table(table(game, summaries)))
    print(f"wrote {Path(cfg.out) / 'episodes.jsonl'}, summary.json, summary.md, summary.csv, config.yaml")
    return 0
