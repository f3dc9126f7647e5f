"""GRPO through TRL's ``GRPOTrainer``, with a ``rollout_func`` that plays our multi-turn episodes.

TRL samples each training prompt ``num_generations`` times; our rollout function turns every copy into an
episode of the same hand or route (the prompt is looked up to its seed), plays them all at once with the
shared rollout engine, and returns one *completion* per episode: the model's answers with the verifier's
feedback turns in between. The feedback tokens are marked ``env_mask = 0``, so they are context for the
model but never trained on; the episode's return is the reward, so advantages are relative within the group
of episodes of one prompt. Everything else — the loss, KL to the reference (``beta``), optimiser, schedule,
checkpoints, logging, ``accelerate`` — is TRL's; resume and compute accounting (``gengap.json`` in each
checkpoint and the output folder) are SFT's (:mod:`gengap.train.callbacks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gengap.rl.config import RLConfig
from gengap.rl.rollout import Rollout, model_generator, rollout
from gengap.train.compute import TokenCount


def _key(prompt: Any) -> str:
    """A prompt (list of messages) → the text of its first user turn, which identifies the episode."""
    if isinstance(prompt, list):
        content = prompt[0]["content"]
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content)
    return str(prompt)


def episode_dataset(game: Any, n: int, seed: int) -> tuple[Any, dict[str, int]]:
    """``(dataset with a prompt column, prompt text → episode seed)``."""
    import datasets

    rows, lookup = [], {}
    for ep in game.episodes(seed, n):
        first = [ep.messages[0]]
        lookup.setdefault(_key(first), ep.seed)
        rows.append({"prompt": first})
    return datasets.Dataset.from_list(rows), lookup


def completions_of(ro: Rollout, n: int) -> dict[str, list[Any]]:
    """One completion per episode: answers (trained, ``env_mask`` 1) with feedback turns between (mask 0)."""
    by_episode: dict[int, list[Any]] = {}
    for t in ro.turns:
        by_episode.setdefault(t.episode, []).append(t)
    out: dict[str, list[Any]] = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": []}
    for k in range(n):
        turns = by_episode[k]
        ids, logps, mask = [], [], []
        for j, t in enumerate(turns):
            ids += t.answer_ids
            logps += t.logprobs
            mask += [1] * len(t.answer_ids)
            if j + 1 < len(turns):
                context = turns[j].prompt_ids + t.answer_ids
                nxt = turns[j + 1].prompt_ids
                # The next prompt extends this one by the (closed) answer and the feedback turn. A tokenizer that
                # re-tokenises the answer text differently breaks the prefix; we then keep the generated answer
                # and take the next prompt's tokens after the same length (an approximation, rare in practice).
                feedback = nxt[len(context) :]
                ids += feedback
                logps += [0.0] * len(feedback)
                mask += [0] * len(feedback)
        out["prompt_ids"].append(turns[0].prompt_ids)
        out["completion_ids"].append(ids)
        out["logprobs"].append(logps)
        out["env_mask"].append(mask)
    return out


def make_rollout_func(game: Any, lookup: dict[str, int], cfg: RLConfig, tokens: TokenCount | None = None) -> Any:
    """TRL's ``rollout_func``: play the prompts' episodes; add the tokens they cost, summed over processes, to
    ``tokens`` (generation: every turn's prompt and answer; training: each completion with its prompt, read
    again by the reference model when ``beta`` > 0)."""
    from gengap.models.generation import SamplingConfig

    engine: list[Any] = []  # the vLLM engine, made at the first rollout

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        seeds = [lookup[_key(p)] for p in prompts]
        sampling = SamplingConfig(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens)
        generator = None
        if cfg.rollout_backend == "vllm":
            generator = _vllm_engine(engine, cfg, trainer.accelerator, sampling)
            generator.sync_weights(model)  # the policy moved since the last rollout
        ro = rollout(
            generator or model_generator(model, trainer.processing_class, sampling, batch_size=len(prompts)),
            lambda k: game.episode(seeds[k]),
            len(prompts),
            batch_size=len(prompts),
            max_turns=cfg.max_turns or None,
        )
        out = completions_of(ro, len(prompts))
        returns: list[float] = [0.0] * len(prompts)
        for t in ro.turns:
            returns[t.episode] += t.reward
        out["episode_return"] = returns
        out["episode_success"] = [float(ep.success) for ep in ro.episodes]
        if tokens is not None:
            _count(tokens, trainer.accelerator, ro, out, cfg.beta > 0)
        return out

    return rollout_func


def _count(tokens: TokenCount, accelerator: Any, ro: Rollout, out: dict[str, list[Any]], reference: bool) -> None:
    """Add one rollout's tokens, summed over processes (every process plays its share at the same step)."""
    import torch

    trained = sum(len(p) + len(c) for p, c in zip(out["prompt_ids"], out["completion_ids"], strict=True))
    local = torch.tensor([trained, ro.prompt_tokens + ro.generated_tokens], dtype=torch.float64)
    counts = accelerator.reduce(local.to(accelerator.device), reduction="sum").cpu().tolist()
    tokens.train += int(counts[0])
    tokens.generation += int(counts[1]) + (int(counts[0]) if reference else 0)


def _vllm_engine(engine: list[Any], cfg: RLConfig, accelerator: Any, sampling: Any) -> Any:
    from gengap.models.registry import resolve
    from gengap.rl.vllm_backend import colocated, vllm_generator

    if not engine:
        engine.append(
            vllm_generator(
                str(resolve(cfg.model)),
                sampling,
                gpu_memory_utilization=cfg.vllm_gpu_memory,
                seed=cfg.seed + accelerator.process_index,
                **colocated(accelerator.process_index, accelerator.local_process_index, accelerator.num_processes),
            )
        )
    return engine[0]


def episode_return_reward(completions: list[Any], episode_return: list[float], **_: Any) -> list[float]:
    """The reward of a completion is its episode's return under the game's verifier."""
    return list(episode_return)


def train_grpo(cfg: RLConfig) -> Any:
    """Run GRPO from ``cfg.model``; resumes from the last complete checkpoint in ``cfg.output_dir``. Returns the
    trainer. Like SFT, the output folder ends with the model, its tokenizer and ``gengap.json`` (compute)."""
    import os
    from dataclasses import asdict

    import torch
    from trl import GRPOConfig, GRPOTrainer

    from gengap.core.checkpoint import write_meta
    from gengap.core.config import run_settings, save_config
    from gengap.core.io import guard_settings
    from gengap.models.registry import load
    from gengap.train.callbacks import ComputeCallback, resume_point, train_to_the_end

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    game = cfg.make_game(cfg.split)
    dataset, lookup = episode_dataset(game, cfg.n_prompts, cfg.seed)
    loaded = load(cfg.model)
    on_gpu = torch.cuda.is_available()
    args = GRPOConfig(
        output_dir=cfg.output_dir,
        num_generations=cfg.num_generations,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        beta=cfg.beta,
        temperature=cfg.temperature,
        # A completion holds every answer of an episode with the feedback between them (each at most ~3 answers
        # long): sized by the game's own bound on an episode's turns (V-IRL: points x attempts).
        max_completion_length=cfg.max_new_tokens * game.max_turns() * 4,
        save_steps=cfg.save_steps,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        bf16=on_gpu,
        use_cpu=not on_gpu,
        report_to=cfg.report_to,
        save_only_model=False,
    )
    tokens = TokenCount()
    compute = ComputeCallback(loaded.meta, {"kind": "rl-grpo", "model": cfg.model, "config": asdict(cfg)}, tokens)
    trainer = GRPOTrainer(
        model=loaded.model,
        reward_funcs=[episode_return_reward],
        args=args,
        train_dataset=dataset,
        processing_class=loaded.tokenizer,
        rollout_func=make_rollout_func(game, lookup, cfg, tokens),
        peft_config=cfg.lora_config() if cfg.use_peft else None,
        callbacks=[compute],
    )
    guard_settings(Path(cfg.output_dir) / "gengap_run.json", run_settings(cfg, game))
    if trainer.accelerator.is_main_process:
        save_config(cfg, cfg.output_dir)
    train_to_the_end(trainer, resume_point(cfg.output_dir, trainer, cfg.resume), compute)
    trainer.save_model(cfg.output_dir)
    if trainer.is_world_process_zero():
        loaded.tokenizer.save_pretrained(cfg.output_dir)
        write_meta(cfg.output_dir, compute.meta(trainer.state))  # last: the final files are complete
    trainer.accelerator.wait_for_everyone()
    return trainer
