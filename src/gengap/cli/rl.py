"""``gengap rl``: turn-level PPO (ours, on accelerate) or GRPO (TRL's trainer with our multi-turn rollouts)."""

from __future__ import annotations

from gengap.core.config import parse_config
from gengap.core.episode import episode_seed
from gengap.models.registry import resolve
from gengap.rl.config import RLConfig


def run(command: str, argv: list[str]) -> int:
    cfg = parse_config(RLConfig, argv, prog="gengap rl")
    cfg.make_game(cfg.split).episode(episode_seed(cfg.seed, 0))  # a bad split or world fails before the model loads
    resolve(cfg.model)  # as does a model that is not there (without importing transformers)
    if cfg.algo == "grpo":
        from gengap.rl.grpo import train_grpo

        trainer = train_grpo(cfg)
        rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
        print(
            f"GRPO model written to {cfg.output_dir}: step {trainer.state.global_step}, last mean episode return "
            f"{rewards[-1] if rewards else float('nan'):+.3f}"
        )
        return 0
    from gengap.rl.ppo import train_ppo

    row = train_ppo(cfg)
    if row:
        print(
            f"PPO model written to {cfg.output_dir}: update {row['update']}, mean turn reward "
            f"{row['mean_turn_reward']:+.3f}, success {row['success_rate']:.3f}; log in {cfg.output_dir}/log.jsonl"
        )
    return 0
