"""Turn-level PPO as in the paper, on top of ``accelerate`` (one CPU process, several processes, or GPUs).

The loop in :func:`train_ppo` reads like CleanRL's: seed → per update: roll out → old log-probs and values in
one no-grad pass → GAE over turns → epochs over shuffled minibatches (with gradient accumulation) → log →
checkpoint. The forward pass that gives a turn's log-probability and value is in :mod:`gengap.rl.policy_model`,
saving and resuming in :mod:`gengap.rl.checkpoints`, the log and the trackers in :mod:`gengap.rl.reporting`.
Compute is charged with the model's total size also under LoRA (:func:`~gengap.train.compute.total_parameters`).

Defects of the reference implementation that this code does not repeat, each tested: GAE never bootstraps
across episodes; the entropy bonus and the KL penalty are computed whenever their coefficients are non-zero;
gradient clipping clips (the norm is logged before and bounded after); the learning-rate schedule is stepped
exactly once per update by every process (it is not handed to ``accelerator.prepare``, which would step it
once per process).
"""

from __future__ import annotations

import copy
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from gengap.core.config import run_settings, save_config
from gengap.core.episode import episode_seed
from gengap.core.io import guard_settings
from gengap.models.processing import is_vision, text_tokenizer
from gengap.rl.advantages import gae
from gengap.rl.checkpoints import discard_partial, last_checkpoint, publish, resume, save_checkpoint
from gengap.rl.config import RLConfig
from gengap.rl.policy_model import (
    build_value_head,
    forward_turns,
    gather_reference,
    hidden_size,
    next_state_values,
    reference_token_logp,
    token_weights,
)
from gengap.rl.reporting import RunLog
from gengap.rl.rollout import Rollout, Turn, model_generator, rollout
from gengap.train.compute import (
    Compute,
    generation_compute,
    total_parameters,
    trainable_parameters,
    training_compute,
)

# ------------------------------------------------------------------------------------------------ the loop


def train_ppo(cfg: RLConfig) -> dict[str, Any]:
    """Run PPO from ``cfg.model``; resumes from the last checkpoint in ``cfg.output_dir``. Returns the last log row."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from gengap.models.generation import SamplingConfig
    from gengap.models.registry import load
    from gengap.rl.losses import explained_variance

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    out = Path(cfg.output_dir)
    game = cfg.make_game(cfg.split)  # bad settings and a missing model fail before the folder is claimed
    loaded = load(cfg.model)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        settings = run_settings(cfg, game)
        if cfg.lr_scheduler_type != "constant":  # the schedule's length is then part of the run
            settings["updates"] = cfg.updates
        guard_settings(out / "gengap_run.json", settings)
        save_config(cfg, out)  # `gengap rl --config <output_dir>/config.yaml` reruns or resumes it
        discard_partial(out)
    accelerator.wait_for_everyone()
    last = last_checkpoint(out) if cfg.resume else None
    set_seed(cfg.seed + accelerator.process_index)

    learner, start_update, spent = _learner(cfg, loaded, accelerator, last)
    if start_update > cfg.updates:
        raise ValueError(
            f"{out} already holds {start_update} updates; pass --updates {start_update} or more, or a new --output-dir"
        )
    parent_compute = Compute.from_dict(loaded.meta.get("compute"))
    sampling = SamplingConfig(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens)
    engine = _vllm_engine(cfg, sampling, accelerator) if cfg.rollout_backend == "vllm" else None
    log = None
    if accelerator.is_main_process:
        log = RunLog(out, report_to=cfg.report_to, config=asdict(cfg), resumed_at=start_update)
    bar = tqdm(
        range(start_update, cfg.updates),
        desc="PPO",
        unit="update",
        initial=start_update,
        total=cfg.updates,
        disable=not accelerator.is_main_process,
    )
    row: dict[str, Any] = {}
    for update in bar:
        t0 = time.perf_counter()
        seed = cfg.seed + 1_000_003 * (update * accelerator.num_processes + accelerator.process_index + 1)
        policy = accelerator.unwrap_model(learner.model)
        ro = _play(cfg, policy, learner.tokenizer, game, sampling, engine, seed)
        turns = ro.turns
        weights = [token_weights(learner.text_tok, t.answer_ids, t.answer, cfg.pre_answer_weight) for t in turns]
        old = _old_pass(cfg, learner, policy, turns, weights)
        adv, ret = _advantages(cfg, turns, old)

        # Optimisation: epochs over shuffled minibatches, each split into micro-batches for accumulation.
        stats: dict[str, list[float]] = {}
        shuffle = random.Random(seed)
        micro = cfg.minibatch_size // cfg.gradient_accumulation_steps
        train_tokens = 0
        learner.model.train()
        for _ in range(cfg.epochs):
            order = list(range(len(turns)))
            shuffle.shuffle(order)
            for start in range(0, len(order), cfg.minibatch_size):
                mb = order[start : start + cfg.minibatch_size]
                pieces = [mb[j : j + micro] for j in range(0, len(mb), micro)]
                for j, piece in enumerate(pieces):
                    sync = j == len(pieces) - 1
                    with nullcontext() if sync else accelerator.no_sync(learner.model):
                        loss = _loss(cfg, learner, turns, weights, piece, old, adv, ret, stats)
                        accelerator.backward(loss * len(piece) / len(mb))
                    train_tokens += _tokens(turns[k] for k in piece)
                norm = accelerator.clip_grad_norm_(learner.params, cfg.max_grad_norm)
                _add(stats, "grad_norm", float(norm))  # before clipping, as torch reports it
                _add(stats, "grad_norm_clipped", _grad_norm(learner.params))
                learner.optimizer.step()
                learner.optimizer.zero_grad(set_to_none=True)
        lr = learner.scheduler.get_last_lr()[0]
        learner.scheduler.step()  # once per update, in every process

        spent = spent.plus(_update_compute(accelerator, learner.n_params, train_tokens, ro, old.tokens))
        dt = time.perf_counter() - t0
        row = {
            "update": update + 1,
            **ro.stats,
            **{k: sum(v) / len(v) for k, v in stats.items()},
            "explained_variance": explained_variance(old.values, ret),
            "learning_rate": lr,
            "generated_tokens_per_s": ro.generated_tokens / max(ro.seconds, 1e-9),
            "train_tokens_per_s": train_tokens / max(dt - ro.seconds, 1e-9),
            "seconds": dt,
            "params": learner.n_params,
            "trainable_params": learner.n_trainable,
            "run_compute": spent.to_dict(),
            "compute": parent_compute.plus(spent).to_dict(),
        }
        if log is not None:
            log.write(row)
            bar.set_postfix(reward=f"{row['mean_turn_reward']:+.2f}", success=f"{row['success_rate']:.2f}")
        if (update + 1) % cfg.save_every == 0 or update + 1 == cfg.updates:
            _save(cfg, accelerator, learner, loaded.meta, update + 1, spent, parent_compute)
    if log is not None:
        log.close()
        if last is not None and start_update == cfg.updates:  # a crash after the last checkpoint: finish its copy
            publish(last, out)
            row = log.last_row()
    accelerator.wait_for_everyone()
    return row


# ------------------------------------------------------------------------------------------------ its steps


@dataclass
class Learner:
    """What the optimisation works on: the policy, its critic and optimiser, and what feeds them."""

    model: Any
    """The policy as ``accelerate`` prepared it (LoRA-wrapped with ``use_peft``)."""
    value_head: Any
    optimizer: Any
    scheduler: Any
    """Not prepared by ``accelerate``: stepped once per update by every process."""
    params: list[Any]
    """The parameters the optimiser steps, as prepared (clipped by their norm)."""
    reference: Any
    """A frozen copy of Init for the KL term (``None`` without it, or with LoRA: adapters off is Init)."""
    tokenizer: Any
    """The tokenizer, or a vision-language model's processor."""
    text_tok: Any
    pad_id: int
    n_params: int
    """The model's total size plus the value head: the N of the FLOPs."""
    n_trainable: int

    @property
    def processor(self) -> Any:
        return self.tokenizer if is_vision(self.tokenizer) else None


def _learner(cfg: RLConfig, loaded: Any, accelerator: Any, last: Path | None) -> tuple[Learner, int, Compute]:
    """Build the learner from Init, restore it from ``last`` when resuming, hand it to ``accelerate``.

    Returns the learner, the updates already done and the compute this run has spent so far.
    """
    import torch
    from transformers import get_scheduler

    model, tokenizer = loaded.model, loaded.tokenizer
    reference = None
    if cfg.kl_coef > 0 and not cfg.use_peft:  # on the policy's device: its hidden states meet the value head
        reference = copy.deepcopy(model).eval().requires_grad_(False).to(accelerator.device)
    if cfg.use_peft:
        from peft import get_peft_model

        model = get_peft_model(model, cfg.lora_config())
    value_head = build_value_head(hidden_size(model), cfg.seed)
    n_params = total_parameters(model) + total_parameters(value_head)
    n_trainable = trainable_parameters(model) + trainable_parameters(value_head)
    params = [p for p in model.parameters() if p.requires_grad] + list(value_head.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    scheduler = get_scheduler(
        cfg.lr_scheduler_type, optimizer, num_warmup_steps=cfg.warmup_updates, num_training_steps=cfg.updates
    )
    start_update, spent = 0, Compute()
    if last is not None:
        start_update, spent = resume(
            last, model=model, value_head=value_head, optimizer=optimizer, scheduler=scheduler, peft=cfg.use_peft
        )
    model, value_head, optimizer = accelerator.prepare(model, value_head, optimizer)  # NOT the scheduler
    # What prepare() returns owns the parameters the optimiser steps (FSDP flattens them): clip those.
    params = [p for p in model.parameters() if p.requires_grad] + list(value_head.parameters())
    text_tok = text_tokenizer(tokenizer)
    pad_id = text_tok.pad_token_id if text_tok.pad_token_id is not None else text_tok.eos_token_id
    learner = Learner(
        model, value_head, optimizer, scheduler, params, reference, tokenizer, text_tok, pad_id, n_params, n_trainable
    )
    return learner, start_update, spent


def _vllm_engine(cfg: RLConfig, sampling: Any, accelerator: Any) -> Any:
    from gengap.models.registry import resolve
    from gengap.rl.vllm_backend import colocated, vllm_generator

    return vllm_generator(
        str(resolve(cfg.model)),
        sampling,
        gpu_memory_utilization=cfg.vllm_gpu_memory,
        seed=cfg.seed + accelerator.process_index,
        **colocated(accelerator.process_index, accelerator.local_process_index, accelerator.num_processes),
    )


def _play(cfg: RLConfig, policy: Any, tokenizer: Any, game: Any, sampling: Any, engine: Any, seed: int) -> Rollout:
    """This update's episodes, played by the current policy (through the vLLM engine when there is one)."""
    sampling = replace(sampling, seed=seed)
    if engine is not None:  # the engine plays with the policy's current weights
        engine.sampling = sampling
        engine.sync_weights(policy)
    return rollout(
        engine or model_generator(policy, tokenizer, sampling, batch_size=cfg.rollout_batch_size),
        lambda k: game.episode(episode_seed(seed, k)),
        cfg.episodes_per_update,
        batch_size=cfg.rollout_batch_size,
        max_turns=cfg.max_turns or None,
    )


@dataclass
class OldPass:
    """What the optimisation compares against, from one no-grad pass over the update's turns."""

    logp: Any
    """Per turn: the weighted log-prob of its answer under the policy that played it."""
    values: Any
    """Per turn: the value head's estimate."""
    reference: list[Any]
    """Per chunk of ``minibatch_size`` turns: the answers' token log-probs under Init (when ``kl_coef`` > 0)."""
    bootstrap: list[float]
    """Per turn: the value of the next state where the episode was cut there, else 0."""
    tokens: int
    """Tokens processed by this pass (compute)."""


def _old_pass(cfg: RLConfig, learner: Learner, policy: Any, turns: list[Turn], weights: list[list[float]]) -> OldPass:
    """Old log-probs and values in one no-grad pass (exactly the training forward, so the first ratio is 1)."""
    import torch

    kw = dict(pad_id=learner.pad_id, temperature=cfg.temperature, processor=learner.processor)
    logp, values, reference, tokens = [], [], [], 0
    with torch.no_grad():
        for i in range(0, len(turns), cfg.minibatch_size):
            chunk, chunk_weights = turns[i : i + cfg.minibatch_size], weights[i : i + cfg.minibatch_size]
            f = forward_turns(policy, learner.value_head, chunk, weights=chunk_weights, **kw)
            logp.append(f["turn_logp"].cpu())
            values.append(f["values"].cpu())
            tokens += _tokens(chunk)
            if cfg.kl_coef > 0:
                reference.append(
                    reference_token_logp(
                        learner.reference, policy, learner.value_head, chunk, weights=chunk_weights, **kw
                    )
                )
        bootstrap = [0.0] * len(turns)
        cut = [k for k, t in enumerate(turns) if t.cut]
        if cut:
            nxt = next_state_values(policy, learner.value_head, learner.tokenizer, [turns[k] for k in cut])
            for k, v in zip(cut, nxt, strict=True):
                bootstrap[k] = v
    return OldPass(torch.cat(logp), torch.cat(values), reference, bootstrap, tokens)


def _advantages(cfg: RLConfig, turns: list[Turn], old: OldPass) -> tuple[Any, Any]:
    """GAE over turns (never across episodes; cut episodes bootstrap), advantages normalised if asked."""
    import torch

    adv, ret = gae(
        [t.reward for t in turns],
        old.values.tolist(),
        [t.episode for t in turns],
        [t.terminal for t in turns],
        [t.cut for t in turns],
        old.bootstrap,
        gamma=cfg.gamma,
        lam=cfg.lam,
    )
    adv_t, ret_t = torch.tensor(adv), torch.tensor(ret)
    if cfg.normalize_advantages and len(turns) > 1:
        adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
    return adv_t, ret_t


def _loss(
    cfg: RLConfig,
    learner: Learner,
    turns: list[Turn],
    weights: list[list[float]],
    piece: list[int],
    old: OldPass,
    adv: Any,
    ret: Any,
    stats: dict[str, list[float]],
) -> Any:
    """The PPO loss of the turns ``piece`` (clipped surrogate + value loss − entropy bonus + KL to Init)."""
    import torch

    from gengap.rl.losses import kl_to_reference, policy_loss, value_loss

    f = forward_turns(
        learner.model,
        learner.value_head,
        [turns[k] for k in piece],
        pad_id=learner.pad_id,
        temperature=cfg.temperature,
        weights=[weights[k] for k in piece],
        processor=learner.processor,
        want_entropy=cfg.ent_coef > 0,
    )
    idx = torch.tensor(piece)
    dev = f["turn_logp"].device
    pg, pstats = policy_loss(f["turn_logp"], old.logp[idx].to(dev), adv[idx].to(dev), cfg.clip)
    vl = value_loss(f["values"], old.values[idx].to(dev), ret[idx].to(dev), cfg.value_clip or None)
    loss = pg + cfg.vf_coef * vl
    if cfg.ent_coef > 0:
        loss = loss - cfg.ent_coef * f["entropy"]
        _add(stats, "entropy", f["entropy"].item())
    if cfg.kl_coef > 0:
        ref = gather_reference(old.reference, piece, cfg.minibatch_size).to(dev)
        kl = kl_to_reference(f["token_logp"], ref[:, : f["token_logp"].shape[1]], f["mask"])
        loss = loss + cfg.kl_coef * kl
        _add(stats, "kl_to_init", kl.item())
    _add(stats, "policy_loss", pg.item())
    _add(stats, "value_loss", vl.item())
    for k, v in pstats.items():
        _add(stats, k, v)
    return loss


def _update_compute(accelerator: Any, n_params: int, train_tokens: int, ro: Rollout, forward_tokens: int) -> Compute:
    """This update's compute, its tokens summed over processes: 6·N·D trained, 2·N·D generated or scored."""
    import torch

    counts = torch.tensor(
        [train_tokens, ro.prompt_tokens + ro.generated_tokens, forward_tokens],
        dtype=torch.float64,
        device=accelerator.device,
    )
    counts = accelerator.reduce(counts, reduction="sum").cpu().tolist()
    return training_compute(n_params, int(counts[0])).plus(generation_compute(n_params, int(counts[1] + counts[2])))


def _save(
    cfg: RLConfig,
    accelerator: Any,
    learner: Learner,
    parent: dict[str, Any],
    update: int,
    spent: Compute,
    parent_compute: Compute,
) -> None:
    meta = {
        "kind": "rl-ppo",
        "model": cfg.model,
        "config": asdict(cfg),
        "step": update,
        "params": learner.n_params,
        "trainable_params": learner.n_trainable,
        "run_compute": spent.to_dict(),
        "compute": parent_compute.plus(spent).to_dict(),
        "parent": {k: parent.get(k) for k in ("model", "kind", "step", "compute") if k in parent},
    }
    save_checkpoint(
        accelerator,
        Path(cfg.output_dir),
        update,
        model=learner.model,
        value_head=learner.value_head,
        optimizer=learner.optimizer,
        scheduler=learner.scheduler,
        tokenizer=learner.tokenizer,
        meta=meta,
        run_compute=spent,
        peft=cfg.use_peft,
        final=update == cfg.updates,
    )


def _tokens(turns: Any) -> int:
    return sum(len(t.prompt_ids) + len(t.answer_ids) for t in turns)


def _grad_norm(params: list[Any]) -> float:
    import torch

    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(grads))) if grads else 0.0


def _add(stats: dict[str, list[float]], key: str, value: float) -> None:
    stats.setdefault(key, []).append(value)
