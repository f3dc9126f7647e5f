"""The policy and its critic as turn-level PPO sees them: one forward pass gives a turn's log-probability and value.

A turn's log-probability is the sum of its answer tokens' log-probs (tokens before the answer field weighted by
``pre_answer_weight``; 0.5 reproduces the reference), under the same temperature-scaled distribution that
sampled them. The value head reads the policy's last hidden state at the last prompt token.
"""

from __future__ import annotations

import math
import re
from typing import Any

from gengap.models.processing import text_tokenizer
from gengap.rl.rollout import Turn

_ANSWER_FIELD = re.compile(r"[\"']?(formula|action)[\"']?\s*[:=]", re.IGNORECASE)


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


def hidden_size(model: Any) -> int:
    """The width of the policy's last hidden state (the text model's, for a vision-language model)."""
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


def reference_token_logp(
    reference: Any,
    policy: Any,
    value_head: Any,
    turns: list[Turn],
    *,
    pad_id: int,
    temperature: float,
    weights: list[list[float]],
    processor: Any = None,
) -> Any:
    """Token log-probs of the answers under Init: a frozen copy, or the LoRA model with adapters off."""
    import torch

    def run(m: Any) -> Any:
        return forward_turns(
            m, value_head, turns, pad_id=pad_id, temperature=temperature, weights=weights, processor=processor
        )["token_logp"].cpu()

    if reference is not None:
        return run(reference)
    with policy.disable_adapter(), torch.no_grad():
        return run(policy)


def gather_reference(chunks: list[Any], turns: list[int], chunk_size: int) -> Any:
    """The reference token log-probs of ``turns`` (indices into the update), from per-chunk tensors, right-padded."""
    import torch

    rows = [chunks[k // chunk_size][k % chunk_size] for k in turns]
    width = max(r.shape[0] for r in rows)
    return torch.stack([torch.nn.functional.pad(r, (0, width - r.shape[0])) for r in rows])


def next_state_values(policy: Any, value_head: Any, tokenizer: Any, turns: list[Turn]) -> list[float]:
    """Values of the states a cut episode would have answered next (their prompts, no answer yet)."""
    import torch

    from gengap.models.generation import prompt_ids

    ids = prompt_ids(text_tokenizer(tokenizer), [t.next_messages for t in turns])
    device = next(policy.parameters()).device
    values = []
    for p in ids:
        out = policy(input_ids=torch.tensor([p], device=device), output_hidden_states=True)
        values.append(float(value_head(out.hidden_states[-1][0, -1].float())))
    return values
