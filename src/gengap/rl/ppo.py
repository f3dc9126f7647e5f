"""Turn-level PPO as in the paper, on top of ``accelerate`` (one CPU process, several processes, or GPUs).

The loop reads like CleanRL's: roll out → value estimates → GAE over turns → epochs over shuffled minibatches
(with gradient accumulation) → log. A turn's log-probability is the sum of its answer tokens' log-probs
(tokens before the answer field weighted by ``pre_answer_weight``; 0.5 reproduces the reference), under the
same temperature-scaled distribution that sampled them. The value head reads the policy's last hidden state
at the last prompt token.

Defects of the reference implementation that this code does not repeat, each tested: GAE never bootstraps
across episodes; the entropy bonus and the KL penalty are computed whenever their coefficients are non-zero;
gradient clipping clips (the norm is logged before and bounded after); the learning-rate schedule is stepped
exactly once per update by every process (it is not handed to ``accelerator.prepare``, which would step it
once per process).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gengap.core.episode import episode_seed
from gengap.core.io import JsonlAppender, atomic_write_json, guard_settings
from gengap.rl.advantages import gae
from gengap.rl.games import ENVS, make_game
from gengap.rl.rollout import Rollout, Turn, model_generator, rollout

_ANSWER_FIELD = re.compile(r"[\"']?(formula|action)[\"']?\s*[:=]", re.IGNORECASE)
_NOT_SHAPING = {"resume", "save_every", "report_to", "updates", "log_every"}


@dataclass
class PPOConfig:
    """Every setting of a PPO run (CLI flags are generated from these fields)."""

    model: str = field(default="tiny-lm", metadata={"help": "Init: a checkpoint folder, built-in name or Hub id."})
    output_dir: str = "runs/rl"
    env: str = field(default="gp", metadata={"help": "gp (GeneralPoints) or virl (V-IRL)."})
    split: str = "id"
    vision: bool = False
    style: str = field(default="compact", metadata={"help": "prompt style: paper or compact"})
    verify_iter: int = field(default=5, metadata={"help": "attempts per episode (GP) or per route point (V-IRL)"})
    world: str = field(default="helsinki", metadata={"help": "V-IRL world"})
    updates: int = field(default=20, metadata={"help": "number of PPO updates (rollout + optimisation)"})
    episodes_per_update: int = field(default=64, metadata={"help": "episodes played per update, per process"})
    rollout_batch_size: int = field(default=64, metadata={"help": "episodes in flight during a rollout"})
    rollout_backend: str = field(
        default="hf", metadata={"help": "hf (our batched generation) or vllm (GPU, colocated; pip install vllm)"}
    )
    vllm_gpu_memory: float = field(default=0.3, metadata={"help": "share of GPU memory the vLLM engine may take"})
    max_turns: int = field(default=0, metadata={"help": "cut an episode after this many turns (0: never)"})
    epochs: int = field(default=2, metadata={"help": "passes over each update's turns"})
    minibatch_size: int = field(default=32, metadata={"help": "turns per optimiser step"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "micro-batches per minibatch"})
    learning_rate: float = 1e-5
    lr_scheduler_type: str = field(default="constant", metadata={"help": "constant, linear or cosine, per update"})
    warmup_updates: int = 0
    gamma: float = 0.9
    lam: float = 0.95
    clip: float = field(default=0.1, metadata={"help": "PPO ratio clip"})
    value_clip: float = field(default=0.1, metadata={"help": "value clip around the old value (0: unclipped)"})
    vf_coef: float = 0.5
    ent_coef: float = field(default=0.0, metadata={"help": "entropy bonus (off in the paper)"})
    kl_coef: float = field(default=0.0, metadata={"help": "KL penalty to Init (off in the paper)"})
    pre_answer_weight: float = field(
        default=1.0, metadata={"help": "weight of tokens before the formula/action field (0.5: as the reference)"}
    )
    normalize_advantages: bool = True
    max_grad_norm: float = 1.0
    temperature: float = 0.2
    top_p: float = 1.0
    max_new_tokens: int = 64
    use_peft: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    save_every: int = field(default=5, metadata={"help": "checkpoint every N updates"})
    report_to: str = field(default="none", metadata={"help": "none, tensorboard, wandb (comma-separated)"})
    seed: int = 0
    resume: bool = True

    def __post_init__(self) -> None:
        if self.env not in ENVS:
            raise ValueError(f"env must be one of {ENVS}, got {self.env!r}")
        if self.minibatch_size % self.gradient_accumulation_steps:
            raise ValueError("minibatch_size must be a multiple of gradient_accumulation_steps")
        if self.rollout_backend not in ("hf", "vllm"):
            raise ValueError(f"rollout_backend must be hf or vllm, got {self.rollout_backend!r}")
        if self.temperature <= 0:
            raise ValueError("PPO samples its actions: temperature must be > 0 (the paper uses 0.2)")
        for name in ("updates", "episodes_per_update", "epochs", "minibatch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


# ------------------------------------------------------------------------------------------------ model side


def token_weights(tokenizer: Any, answer_ids: list[int], answer: str, pre_weight: float) -> list[float]:
    """1 for the answer field and what follows it; ``pre_weight`` for the tokens before it (thoughts, cards)."""
    if pre_weight == 1.0:
        return [1.0] * len(answer_ids)
    m = _ANSWER_FIELD.search(answer)
    if m is None:
        return [1.0] * len(answer_ids)
    cut, seen, weights = m.start(), 0, []
    for tok in answer_ids:
        weights.append(pre_weight if seen < cut else 1.0)
        seen += len(tokenizer.decode([tok], skip_special_tokens=False))
    return weights


def build_value_head(hidden_size: int, seed: int) -> Any:
    """The critic: one ``nn.Linear`` reading the policy's last hidden state, seeded so runs repeat."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    head = torch.nn.Linear(hidden_size, 1)
    with torch.no_grad():
        head.weight.normal_(0.0, 1.0 / math.sqrt(hidden_size), generator=gen)
        head.bias.zero_()
    return head


def _hidden_size(model: Any) -> int:
    config = model.config
    text = getattr(config, "text_config", None) or config
    return int(text.hidden_size)


def forward_turns(
    model: Any,
    value_head: Any,
    turns: list[Turn],
    *,
    pad_id: int,
    temperature: float,
    weights: list[list[float]],
    processor: Any = None,
    want_entropy: bool = False,
) -> dict[str, Any]:
    """Per turn: weighted log-prob of the answer, the value at the last prompt token; per token: log-probs."""
    import torch

    device = next(model.parameters()).device
    seqs = [t.prompt_ids + t.answer_ids for t in turns]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    extra: dict[str, Any] = {}
    images = [img for t in turns for img in t.images]
    if images:
        if processor is None:
            raise ValueError("turns with images need a vision-language model and its processor")
        pixels = processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
        extra["pixel_values"] = pixels.to(device, dtype=model.dtype)
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True, **extra)
    logits, hidden = out.logits, out.hidden_states[-1]
    a_max = max(len(t.answer_ids) for t in turns)
    pos = torch.zeros((len(turns), a_max), dtype=torch.long)
    tok = torch.zeros((len(turns), a_max), dtype=torch.long)
    amask = torch.zeros((len(turns), a_max))
    wts = torch.zeros((len(turns), a_max))
    last_prompt = torch.zeros(len(turns), dtype=torch.long)
    for i, t in enumerate(turns):
        p, a = len(t.prompt_ids), len(t.answer_ids)
        pos[i, :a] = torch.arange(p - 1, p - 1 + a)
        tok[i, :a] = torch.tensor(t.answer_ids)
        amask[i, :a] = 1.0
        wts[i, :a] = torch.tensor(weights[i])
        last_prompt[i] = p - 1
    rows = torch.arange(len(turns)).unsqueeze(1)
    ans_logits = logits[rows.to(device), pos.to(device)].float() / temperature
    logp_all = torch.log_softmax(ans_logits, dim=-1)
    token_logp = logp_all.gather(-1, tok.to(device).unsqueeze(-1)).squeeze(-1)
    amask, wts = amask.to(device), wts.to(device)
    turn_logp = (token_logp * wts * amask).sum(-1)
    h = hidden[torch.arange(len(turns), device=device), last_prompt.to(device)].float()
    values = value_head(h).squeeze(-1)
    result = {"turn_logp": turn_logp, "token_logp": token_logp, "mask": amask, "values": values}
    if want_entropy:
        ent = -(logp_all.exp() * logp_all).sum(-1)
        result["entropy"] = (ent * amask).sum() / amask.sum().clamp(min=1)
    return result


# ------------------------------------------------------------------------------------------------ the run


def _last_checkpoint(out: Path) -> Path | None:
    found = sorted(
        (p for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return found[-1] if found else None


def train_ppo(cfg: PPOConfig) -> dict[str, Any]:
    """Run PPO from ``cfg.model``; resumes from the last checkpoint in ``cfg.output_dir``. Returns the last log row."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    from gengap.models.generation import SamplingConfig
    from gengap.models.registry import load
    from gengap.rl.losses import explained_variance, kl_to_reference, policy_loss, value_loss
    from gengap.train.compute import Compute, generation_compute, trainable_parameters, training_compute

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    out = Path(cfg.output_dir)
    shaping = {k: v for k, v in asdict(cfg).items() if k not in _NOT_SHAPING}
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        guard_settings(out / "gengap_run.json", shaping)
    accelerator.wait_for_everyone()
    last = _last_checkpoint(out) if cfg.resume else None
    set_seed(cfg.seed + accelerator.process_index)

    loaded = load(cfg.model)
    model, tokenizer = loaded.model, loaded.tokenizer
    processor = tokenizer if hasattr(tokenizer, "image_processor") else None
    text_tok = processor.tokenizer if processor is not None else tokenizer
    pad_id = text_tok.pad_token_id if text_tok.pad_token_id is not None else text_tok.eos_token_id
    reference = None
    if cfg.kl_coef > 0 and not cfg.use_peft:
        import copy

        reference = copy.deepcopy(model).eval().requires_grad_(False)
    if cfg.use_peft:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"),
        )
    value_head = build_value_head(_hidden_size(model), cfg.seed)
    start_update, compute_so_far = 0, Compute()
    if last is not None:
        state = json.loads((last / "trainer_state.json").read_text())
        start_update = int(state["update"])
        compute_so_far = Compute.from_dict(state["run_compute"])
        _load_weights(model, last, cfg.use_peft)
        value_head.load_state_dict(torch.load(last / "value_head.pt", weights_only=True))
    params = [p for p in model.parameters() if p.requires_grad] + list(value_head.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate)
    scheduler = get_scheduler(
        cfg.lr_scheduler_type, optimizer, num_warmup_steps=cfg.warmup_updates, num_training_steps=cfg.updates
    )
    if last is not None:
        optimizer.load_state_dict(torch.load(last / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(last / "scheduler.pt", weights_only=True))
    model, value_head, optimizer = accelerator.prepare(model, value_head, optimizer)  # NOT the scheduler
    # What prepare() returns owns the parameters the optimiser steps (FSDP flattens them): clip those.
    params = [p for p in model.parameters() if p.requires_grad] + list(value_head.parameters())
    n_params = trainable_parameters(model) + trainable_parameters(value_head)
    parent_compute = Compute.from_dict(loaded.meta.get("compute"))
    game = make_game(
        cfg.env, split=cfg.split, style=cfg.style, verify_iter=cfg.verify_iter, world=cfg.world, vision=cfg.vision
    )
    sampling = SamplingConfig(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens)
    log_path = out / "log.jsonl"
    writer = _reporters(out, cfg) if accelerator.is_main_process else None
    engine = None
    if cfg.rollout_backend == "vllm":
        from gengap.models.registry import resolve
        from gengap.rl.vllm_backend import colocated, vllm_generator

        engine = vllm_generator(
            str(resolve(cfg.model)),
            sampling,
            gpu_memory_utilization=cfg.vllm_gpu_memory,
            seed=cfg.seed + accelerator.process_index,
            **colocated(accelerator.process_index, accelerator.local_process_index, accelerator.num_processes),
        )
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
        policy = accelerator.unwrap_model(model)
        rng_seed = cfg.seed + 1_000_003 * (update * accelerator.num_processes + accelerator.process_index + 1)
        sampling_u = SamplingConfig(**{**asdict(sampling), "seed": rng_seed})
        if engine is not None:  # the engine plays with the policy's current weights
            engine.sampling = sampling_u
            engine.sync_weights(policy)
        ro: Rollout = rollout(
            engine or model_generator(policy, tokenizer, sampling_u, batch_size=cfg.rollout_batch_size),
            lambda k, s=rng_seed: game.episode(episode_seed(s, k)),
            cfg.episodes_per_update,
            batch_size=cfg.rollout_batch_size,
            max_turns=cfg.max_turns or None,
        )
        turns = ro.turns
        weights = [token_weights(text_tok, t.answer_ids, t.answer, cfg.pre_answer_weight) for t in turns]
        # Old log-probs and values in one no-grad pass (exactly the training forward, so the first ratio is 1).
        old_logp, old_values, ref_logp = [], [], []
        forward_tokens = 0
        with torch.no_grad():
            for i in range(0, len(turns), cfg.minibatch_size):
                chunk = turns[i : i + cfg.minibatch_size]
                f = forward_turns(
                    policy,
                    value_head,
                    chunk,
                    pad_id=pad_id,
                    temperature=cfg.temperature,
                    weights=weights[i : i + cfg.minibatch_size],
                    processor=processor,
                )
                old_logp.append(f["turn_logp"].cpu())
                old_values.append(f["values"].cpu())
                forward_tokens += sum(len(t.prompt_ids) + len(t.answer_ids) for t in chunk)
                if cfg.kl_coef > 0:
                    ref_logp.append(
                        _reference_token_logp(
                            reference,
                            policy,
                            value_head,
                            chunk,
                            pad_id,
                            cfg,
                            weights[i : i + cfg.minibatch_size],
                            processor,
                        )
                    )
            bootstrap = [0.0] * len(turns)
            cut_turns = [k for k, t in enumerate(turns) if t.cut]
            if cut_turns:
                nxt = _next_state_values(policy, value_head, tokenizer, [turns[k] for k in cut_turns])
                for k, v in zip(cut_turns, nxt, strict=True):
                    bootstrap[k] = v
        old_logp_t = torch.cat(old_logp)
        old_values_t = torch.cat(old_values)
        adv, ret = gae(
            [t.reward for t in turns],
            old_values_t.tolist(),
            [t.episode for t in turns],
            [t.terminal for t in turns],
            [t.cut for t in turns],
            bootstrap,
            gamma=cfg.gamma,
            lam=cfg.lam,
        )
        adv_t, ret_t = torch.tensor(adv), torch.tensor(ret)
        if cfg.normalize_advantages and len(turns) > 1:
            adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
        # Optimisation: epochs over shuffled minibatches, each split into micro-batches for accumulation.
        stats: dict[str, list[float]] = {}
        gen = random.Random(rng_seed)
        train_tokens = 0
        micro = cfg.minibatch_size // cfg.gradient_accumulation_steps
        model.train()
        for _ in range(cfg.epochs):
            order = list(range(len(turns)))
            gen.shuffle(order)
            for start in range(0, len(order), cfg.minibatch_size):
                mb = order[start : start + cfg.minibatch_size]
                pieces = [mb[j : j + micro] for j in range(0, len(mb), micro)]
                for j, piece in enumerate(pieces):
                    sync = j == len(pieces) - 1
                    ctx = accelerator.no_sync(model) if not sync else nullcontext()
                    with ctx:
                        f = forward_turns(
                            model,
                            value_head,
                            [turns[k] for k in piece],
                            pad_id=pad_id,
                            temperature=cfg.temperature,
                            weights=[weights[k] for k in piece],
                            processor=processor,
                            want_entropy=cfg.ent_coef > 0,
                        )
                        idx = torch.tensor(piece)
                        dev = f["turn_logp"].device
                        pg, pstats = policy_loss(f["turn_logp"], old_logp_t[idx].to(dev), adv_t[idx].to(dev), cfg.clip)
                        vl = value_loss(
                            f["values"], old_values_t[idx].to(dev), ret_t[idx].to(dev), cfg.value_clip or None
                        )
                        loss = pg + cfg.vf_coef * vl
                        if cfg.ent_coef > 0:
                            loss = loss - cfg.ent_coef * f["entropy"]
                            _add(stats, "entropy", f["entropy"].item())
                        if cfg.kl_coef > 0:
                            ref = _gather_ref(ref_logp, piece, cfg.minibatch_size).to(dev)
                            kl = kl_to_reference(f["token_logp"], ref[:, : f["token_logp"].shape[1]], f["mask"])
                            loss = loss + cfg.kl_coef * kl
                            _add(stats, "kl_to_init", kl.item())
                        accelerator.backward(loss * len(piece) / len(mb))
                    train_tokens += sum(len(turns[k].prompt_ids) + len(turns[k].answer_ids) for k in piece)
                    _add(stats, "policy_loss", pg.item())
                    _add(stats, "value_loss", vl.item())
                    for k, v in pstats.items():
                        _add(stats, k, v)
                norm = accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                _add(stats, "grad_norm", float(norm))  # before clipping, as torch reports it
                _add(stats, "grad_norm_clipped", _grad_norm(params))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        lr = scheduler.get_last_lr()[0]
        scheduler.step()  # once per update, in every process
        # Compute: this update's tokens summed over processes.
        counts = torch.tensor(
            [train_tokens, ro.prompt_tokens + ro.generated_tokens, forward_tokens],
            dtype=torch.float64,
            device=accelerator.device,
        )
        counts = accelerator.reduce(counts, reduction="sum").cpu().tolist()
        step_compute = training_compute(n_params, int(counts[0])).plus(
            generation_compute(n_params, int(counts[1] + counts[2]))
        )
        compute_so_far = compute_so_far.plus(step_compute)
        dt = time.perf_counter() - t0
        row = {
            "update": update + 1,
            **{k: v for k, v in ro.stats.items()},
            **{k: sum(v) / len(v) for k, v in stats.items()},
            "explained_variance": explained_variance(old_values_t, ret_t),
            "learning_rate": lr,
            "generated_tokens_per_s": ro.generated_tokens / max(ro.seconds, 1e-9),
            "train_tokens_per_s": train_tokens / max(dt - ro.seconds, 1e-9),
            "seconds": dt,
            "run_compute": compute_so_far.to_dict(),
            "compute": parent_compute.plus(compute_so_far).to_dict(),
        }
        if accelerator.is_main_process:
            with JsonlAppender(log_path) as sink:
                sink.write(row)
            if writer is not None:
                writer.log({k: v for k, v in row.items() if isinstance(v, int | float)}, update + 1)
            bar.set_postfix(reward=f"{row['mean_turn_reward']:+.2f}", success=f"{row['success_rate']:.2f}")
        if (update + 1) % cfg.save_every == 0 or update + 1 == cfg.updates:
            _save(
                accelerator,
                model,
                value_head,
                optimizer,
                scheduler,
                tokenizer,
                out,
                update + 1,
                cfg,
                loaded,
                compute_so_far,
                parent_compute,
                n_params,
            )
    if writer is not None:
        writer.close()
    return row


def _grad_norm(params: list[Any]) -> float:
    import torch

    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(grads))) if grads else 0.0


def _add(stats: dict[str, list[float]], key: str, value: float) -> None:
    stats.setdefault(key, []).append(value)


def _reference_token_logp(reference, policy, value_head, chunk, pad_id, cfg, weights, processor):
    """Token log-probs of the answers under Init: a frozen copy, or the LoRA model with adapters off."""
    import torch

    def run(m):
        return forward_turns(
            m, value_head, chunk, pad_id=pad_id, temperature=cfg.temperature, weights=weights, processor=processor
        )["token_logp"].cpu()

    if reference is not None:
        return run(reference)
    with policy.disable_adapter(), torch.no_grad():
        return run(policy)


def _gather_ref(ref_chunks: list[Any], piece: list[int], chunk: int) -> Any:
    import torch

    rows = [ref_chunks[k // chunk][k % chunk] for k in piece]
    width = max(r.shape[0] for r in rows)
    return torch.stack([torch.nn.functional.pad(r, (0, width - r.shape[0])) for r in rows])


def _next_state_values(policy: Any, value_head: Any, tokenizer: Any, turns: list[Turn]) -> list[float]:
    """Values of the states a cut episode would have answered next (their prompts, no answer yet)."""
    import torch

    from gengap.models.generation import prompt_ids

    text_tok = tokenizer.tokenizer if hasattr(tokenizer, "image_processor") else tokenizer
    ids = prompt_ids(text_tok, [t.next_messages for t in turns])
    device = next(policy.parameters()).device
    values = []
    for p in ids:
        out = policy(input_ids=torch.tensor([p], device=device), output_hidden_states=True)
        values.append(float(value_head(out.hidden_states[-1][0, -1].float())))
    return values


def _load_weights(model: Any, checkpoint: Path, peft: bool) -> None:
    if peft:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter" / "adapter_model.safetensors")))
        return
    from safetensors.torch import load_file

    state = load_file(str(checkpoint / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise ValueError(f"checkpoint {checkpoint} does not match the model; start a new output folder")


def _save(
    accelerator,
    model,
    value_head,
    optimizer,
    scheduler,
    tokenizer,
    out,
    update,
    cfg,
    loaded,
    compute,
    parent_compute,
    n_params,
) -> None:
    import torch

    from gengap.train.compute import write_meta

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        ck = out / f"checkpoint-{update}"
        tmp = out / f".checkpoint-{update}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        policy = accelerator.unwrap_model(model)
        if cfg.use_peft:
            policy.save_pretrained(tmp / "adapter")
            import copy

            copy.deepcopy(policy).merge_and_unload().save_pretrained(tmp)
        else:
            policy.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(accelerator.unwrap_model(value_head).state_dict(), tmp / "value_head.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        meta = {
            "kind": "rl-ppo",
            "model": cfg.model,
            "config": asdict(cfg),
            "step": update,
            "trainable_params": n_params,
            "run_compute": compute.to_dict(),
            "compute": parent_compute.plus(compute).to_dict(),
            "parent": {k: loaded.meta.get(k) for k in ("model", "kind", "step", "compute") if k in loaded.meta},
        }
        write_meta(tmp, meta)
        atomic_write_json(tmp / "trainer_state.json", {"update": update, "run_compute": compute.to_dict()})
        if ck.exists():
            import shutil

            shutil.rmtree(ck)
        tmp.rename(ck)  # a checkpoint appears whole or not at all
        if update == cfg.updates:  # the final model also at the top of the output folder, like SFT
            for f in ck.iterdir():
                if f.is_file() and f.name not in ("optimizer.pt", "scheduler.pt", "trainer_state.json"):
                    (out / f.name).write_bytes(f.read_bytes())
    accelerator.wait_for_everyone()


class _Reporters:
    """The trackers ``report_to`` names (``tensorboard``, ``wandb``, comma-separated), behind one ``log``."""

    def __init__(self, out: Path, cfg: PPOConfig) -> None:
        names = {n.strip() for n in cfg.report_to.split(",")} - {"", "none"}
        unknown = names - {"tensorboard", "wandb"}
        if unknown:
            raise ValueError(f"--report-to takes none, tensorboard, wandb (comma-separated); got {sorted(unknown)}")
        self.tensorboard = self.wandb = None
        if "tensorboard" in names:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ValueError(
                    "--report-to tensorboard needs the tensorboard package: pip install tensorboard"
                ) from err
            self.tensorboard = SummaryWriter(str(out / "tensorboard"))
        if "wandb" in names:
            try:
                import wandb
            except ImportError as err:
                raise ValueError("--report-to wandb needs the wandb package: pip install wandb") from err
            # One run per output folder: a resumed PPO run continues its wandb run instead of starting another.
            self.wandb = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "gengap"),
                name=out.name,
                id=f"gengap-{hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]}",
                resume="allow",
                dir=str(out),
                config=asdict(cfg),
            )

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.tensorboard is not None:
            for k, v in metrics.items():
                self.tensorboard.add_scalar(k, v, step)
        if self.wandb is not None:
            self.wandb.log(metrics, step=step)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()


def _reporters(out: Path, cfg: PPOConfig) -> _Reporters | None:
    reporters = _Reporters(out, cfg)
    return reporters if reporters.tensorboard is not None or reporters.wandb is not None else None
