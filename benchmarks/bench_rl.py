"""RL throughput on one tiny model, one environment and one sampling setting, side by side in one run:

* generation: generated tokens/s of the shared batched KV-cached helper, as a share of the model's FLOP limit
  (2·N FLOPs per token processed against the measured fp32 matmul rate of this core);
* rollouts: episodes/s of our engine (every live episode's turn in one batch, refilled) vs the same episodes
  played one at a time with the same helper (the naive loop);
* PPO update: tokens/s of a PPO optimisation step (forward with value head, clipped losses, backward, AdamW)
  vs a raw forward+backward+AdamW on the same token sequences.

* rollouts vs TRL: episodes/s of our engine vs ``GRPOTrainer``'s own generation path on the same prompts, in
  GRPO's shape (groups of samples of one hand): single-turn, and two turns where the TRL side is a
  ``rollout_func`` that generates each turn with TRL's single-turn path.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from common import Context, Result, error_result, measure_interleaved

N_COMPLETIONS = 32
MAX_NEW = 64


def _model():
    import torch

    from gengap.models.tiny import TinyLMConfig, build_tiny_lm

    torch.manual_seed(0)
    model, tok = build_tiny_lm(
        TinyLMConfig(hidden_size=256, num_layers=6, num_heads=4, intermediate_size=768, max_positions=2048)
    )
    return model, tok


def _matmul_rate(repeats: int) -> float:
    import torch

    a, b = torch.randn(512, 512), torch.randn(512, 512)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(20):
            a @ b
        times.append((time.perf_counter() - t0) / 20)
    return 2 * 512**3 / statistics.median(times)


def bench_generation(ctx: Context) -> list[Result]:
    """generated tokens/s at batch 32 (≤ 64 new tokens, temperature 0.2) against the FLOP limit"""
    try:
        from gengap.gp.game import GeneralPoints
        from gengap.models.generation import SamplingConfig, generate
        from gengap.train.compute import total_parameters

        model, tok = _model()
        n_params = total_parameters(model)
        convs = [ep.messages for ep in GeneralPoints(style="paper").episodes(0, N_COMPLETIONS)]
        sampling = SamplingConfig(temperature=0.2, max_new_tokens=MAX_NEW, seed=0)
        generate(model, tok, convs[:4], sampling)  # warm-up
        rates, processed = [], []
        for _ in range(min(ctx.repeats, ctx.scaled(3, 1))):
            t0 = time.perf_counter()
            out = generate(model, tok, convs, sampling, batch_size=N_COMPLETIONS)
            dt = time.perf_counter() - t0
            rates.append(sum(len(c.token_ids) for c in out) / dt)
            processed.append(sum(len(c.token_ids) + len(c.prompt_ids) for c in out) / dt)
        limit = _matmul_rate(ctx.repeats)
        tok_s = statistics.median(rates)
        share = 2 * n_params * statistics.median(processed) / limit
        prompt_len = statistics.median(len(c.prompt_ids) for c in out)
    except Exception as err:
        return [error_result("generation: tokens/s", "rate", err)]
    return [
        Result(
            "generation: generated tokens/s (batch 32)",
            "rate",
            tok_s,
            None,
            None,
            f"{n_params / 1e6:.1f}M-param Llama, {prompt_len:.0f}-token GP-L prompts, ≤ {MAX_NEW} new tokens; "
            f"2·N·(prompt+generated)/s = {share:.0%} of the fp32 matmul rate ({limit / 1e9:.0f} GFLOP/s); "
            "target ≥ 25 %",
            extra={"flop_share": share},
        )
    ]


def bench_rollout(ctx: Context) -> list[Result]:
    """tokens/s (prompt + generated) of the rollout engine vs the same episodes one at a time (GP-L, 2 attempts)

    Tokens, not episodes: a lone sequence of an untrained model often ends after a few tokens while a batch runs
    to the longest, so episodes/s would compare different amounts of work."""
    try:
        from gengap.gp.game import GeneralPoints
        from gengap.models.generation import SamplingConfig
        from gengap.rl.rollout import model_generator, rollout

        model, tok = _model()
        game = GeneralPoints(style="paper", verify_iter=2)
        sampling = SamplingConfig(temperature=0.2, max_new_tokens=MAX_NEW)
        gen = model_generator(model, tok, sampling, batch_size=N_COMPLETIONS)
        n_seq = ctx.scaled(8, 4)
        work = {"engine": 0, "naive": 0}

        def engine() -> None:
            ro = rollout(gen, lambda k: game.episode(k), N_COMPLETIONS, batch_size=N_COMPLETIONS)
            work["engine"] += ro.prompt_tokens + ro.generated_tokens

        def one_by_one() -> None:
            for k in range(n_seq):
                ro = rollout(gen, lambda _, k=k: game.episode(k), 1, batch_size=1)
                work["naive"] += ro.prompt_tokens + ro.generated_tokens

        repeats = min(ctx.repeats, 3)
        t = measure_interleaved({"engine": engine, "naive": one_by_one}, repeats=repeats, warmup=0)
    except Exception as err:
        return [error_result("rollout: tokens/s", "rate", err)]
    ours = work["engine"] / sum(t["engine"].seconds)
    base = work["naive"] / sum(t["naive"].seconds)
    return [
        Result(
            "rollout: GP-L 2-turn tokens/s, engine (batch 32) vs one episode at a time",
            "rate",
            ours,
            base,
            None,
            f"prompt + generated tokens per second; {N_COMPLETIONS} episodes per engine call, {n_seq} sequential; "
            f"{N_COMPLETIONS / t['engine'].median:.2f} episodes/s for the engine",
        )
    ]


def bench_ppo_update(ctx: Context) -> list[Result]:
    """PPO optimisation tokens/s vs raw forward+backward+AdamW on the same sequences"""
    try:
        import torch

        from gengap.gp.game import GeneralPoints
        from gengap.models.generation import SamplingConfig
        from gengap.rl.losses import policy_loss, value_loss
        from gengap.rl.ppo import build_value_head, forward_turns
        from gengap.rl.rollout import model_generator, rollout

        model, tok = _model()
        game = GeneralPoints(style="paper", verify_iter=1)
        sampling = SamplingConfig(temperature=0.2, max_new_tokens=MAX_NEW, seed=0)
        turns = rollout(model_generator(model, tok, sampling), lambda k: game.episode(k), 16, batch_size=16).turns
        head = build_value_head(256, 0)
        params = list(model.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=1e-5)
        weights = [[1.0] * len(t.answer_ids) for t in turns]
        old = torch.zeros(len(turns))
        adv = torch.randn(len(turns))
        seqs = [t.prompt_ids + t.answer_ids for t in turns]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), tok.pad_token_id)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        tokens = int(mask.sum())
        model.train()

        def ppo_step() -> None:
            f = forward_turns(model, head, turns, pad_id=tok.pad_token_id, temperature=0.2, weights=weights)
            pg, _ = policy_loss(f["turn_logp"], old, adv, 0.1)
            loss = pg + 0.5 * value_loss(f["values"], f["values"].detach(), torch.zeros(len(turns)), 0.1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad()

        def raw_step() -> None:
            model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            opt.step()
            opt.zero_grad()

        t = measure_interleaved({"ppo": ppo_step, "raw": raw_step}, repeats=ctx.repeats, warmup=1)
    except Exception as err:
        return [error_result("PPO update: tokens/s", "rate", err)]
    return [
        Result(
            "PPO update: tokens/s vs raw forward+backward",
            "rate",
            tokens / t["ppo"].median,
            tokens / t["raw"].median,
            None,
            f"{len(turns)} turns, {tokens:,} tokens per step; target: ≥ 60 % of raw (ratio ≥ 0.6)",
            ratio_target=0.6,
        )
    ]


def _trl_two_turn_rollout(game: Any, seeds: list[int]) -> Any:
    """The baseline for two turns: a ``rollout_func`` as a TRL user would write it, each turn generated by
    ``GRPOTrainer``'s own single-turn path (tokenise, ``generate``), the verifier between the turns."""

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        episodes = [game.episode(seeds[k % len(seeds)]) for k in range(len(prompts))]
        live = list(range(len(episodes)))
        for _turn in range(2):
            ids, _, mm = trainer._tokenize_prompts([episodes[k].messages for k in live])
            completion_ids, _ = trainer._generate_single_turn(ids, None, mm, 1)
            texts = trainer.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
            for k, text in zip(live, texts, strict=True):
                episodes[k].step(text)
            live = [k for k in live if not episodes[k].done]
            if not live:
                break
        return {"prompt_ids": [[0]] * len(prompts), "completion_ids": [[0]] * len(prompts), "logprobs": [[0.0]]}

    return rollout_func


def bench_vs_trl(ctx: Context) -> list[Result]:
    """GP-L episodes/s: our rollout engine vs TRL GRPOTrainer's generation path, same model, same prompts (GRPO
    groups: 4 hands x 8 samples), temperature 0.2, <= 64 new tokens per answer; one and two turns"""
    results = []
    for turns in (1, 2):
        path = "generation" if turns == 1 else "rollout_func"
        name = f"rollout: {turns}-turn episodes/s, engine vs TRL GRPOTrainer ({path})"
        try:
            t = _time_vs_trl(ctx, turns)
        except Exception as err:
            results.append(error_result(name, "rate", err))
            continue
        results.append(
            Result(
                name,
                "rate",
                N_COMPLETIONS / t["ours"].median,
                N_COMPLETIONS / t["trl"].median,
                None,
                f"{N_COMPLETIONS} GP-L episodes = {N_COMPLETIONS // GROUP} hands x {GROUP} samples (paper-style "
                "prompts); "
                + (
                    "TRL: GRPOTrainer._generate, the generation of a GRPO step"
                    if turns == 1
                    else "TRL: a rollout_func generating each turn with GRPOTrainer's own single-turn path"
                )
                + "; target >= 3x",
                ratio_target=3.0,
            )
        )
    return results


GROUP = 8


def _time_vs_trl(ctx: Context, turns: int) -> Any:
    import os
    import tempfile

    import datasets
    from trl import GRPOConfig, GRPOTrainer

    from gengap.gp.game import GeneralPoints
    from gengap.models.generation import SamplingConfig
    from gengap.rl.rollout import model_generator, rollout

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    model, tok = _model()
    game = GeneralPoints(style="paper", verify_iter=turns)
    seeds = [k // GROUP for k in range(N_COMPLETIONS)]
    prompts = [[game.episode(s).messages[0]] for s in seeds]
    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(
            output_dir=tmp,
            num_generations=GROUP,
            per_device_train_batch_size=N_COMPLETIONS,
            temperature=0.2,
            max_completion_length=MAX_NEW,
            use_cpu=True,
            bf16=False,
            report_to="none",
            logging_steps=1,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
            args=args,
            train_dataset=datasets.Dataset.from_list([{"prompt": p} for p in prompts]),
            processing_class=tok,
            rollout_func=_trl_two_turn_rollout(game, seeds) if turns == 2 else None,
        )
        gen = model_generator(
            model, tok, SamplingConfig(temperature=0.2, max_new_tokens=MAX_NEW, seed=0), batch_size=N_COMPLETIONS
        )

        def ours() -> None:
            rollout(gen, lambda k: game.episode(seeds[k]), N_COMPLETIONS, batch_size=N_COMPLETIONS)

        def trl() -> None:
            trainer._generate(prompts)  # private, but it is exactly the generation path of a GRPO step

        return measure_interleaved({"ours": ours, "trl": trl}, repeats=min(ctx.repeats, ctx.scaled(3, 1)), warmup=0)


SECTIONS = (bench_generation, bench_rollout, bench_ppo_update, bench_vs_trl)
