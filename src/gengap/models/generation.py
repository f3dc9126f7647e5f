"""Batched, left-padded, KV-cached generation for many conversations at once.

Shared by evaluation and RL: one call answers the current turn of a whole batch of episodes and returns, per
conversation, the text, the generated token ids and their log-probabilities (under the model's untempered
distribution, which is what policy-gradient ratios need), plus the prompt ids for compute accounting.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gengap.models.prefix_sharing import cache_kwarg, prefill_shared, shared_decoding
from gengap.models.processing import is_vision, text_tokenizer

if TYPE_CHECKING:
    from gengap.models.continuation import GenerationSession

Message = dict[str, Any]


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    logprobs: list[float]
    prompt_ids: list[int] = field(repr=False)
    finished: bool
    """Ended with the end-of-turn token (rather than running out of ``max_new_tokens``)."""


@dataclass(frozen=True)
class SamplingConfig:
    """How to decode. ``temperature=0`` is greedy (evaluation); RL samples at 0.2 as in the paper."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    seed: int | None = None


def prompt_ids(tokenizer: Any, conversations: Sequence[list[Message]]) -> list[list[int]]:
    out = tokenizer.apply_chat_template(list(conversations), add_generation_prompt=True, tokenize=True)
    if hasattr(out, "keys"):
        out = out["input_ids"]
    return [list(x) for x in out]


def _vision_inputs(processor: Any, conversations: Sequence[list[Message]], images: Sequence[list[Any]]) -> Any:
    """Left-padded ids, mask and pixel values from a vision-language processor (it expands image tokens)."""
    texts = [
        processor.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations
    ]
    flat = [img for imgs in images for img in imgs]
    processor.tokenizer.padding_side = "left"
    return processor(text=texts, images=flat or None, return_tensors="pt", padding=True)


def generate(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[list[Message]],
    sampling: SamplingConfig | None = None,
    *,
    images: Sequence[list[Any]] | None = None,
    batch_size: int = 64,
    share_prompts: bool = True,
    session: GenerationSession | None = None,
) -> list[Completion]:
    """Answer every conversation's next assistant turn.

    ``tokenizer`` may be a vision-language processor; ``images`` then gives each conversation's images, in the
    order of its image parts. With ``share_prompts`` (text models), the prompt prefixes that conversations of a
    batch have in common (GRPO's groups, an episode's earlier turns, a task's instructions) are prefilled once
    (see :mod:`gengap.models.prefix_sharing`); the results are the same. A ``session`` (text models, one batch)
    keeps the cache between calls, so that the next turn of the same conversations prefills only its new tokens
    (see :mod:`gengap.models.continuation`).
    """
    import torch

    sampling = sampling or SamplingConfig()
    processor = tokenizer if is_vision(tokenizer) else None
    tokenizer = text_tokenizer(tokenizer)
    all_prompts = prompt_ids(tokenizer, conversations)
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    device = next(model.parameters()).device
    if sampling.seed is not None:
        torch.manual_seed(sampling.seed)
    results: list[Completion] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(all_prompts), batch_size):
            chunk = all_prompts[start : start + batch_size]
            extra: dict[str, Any] = {}
            if processor is not None:
                batch = _vision_inputs(
                    processor, conversations[start : start + batch_size], (images or [])[start : start + batch_size]
                )
                ids, mask = batch["input_ids"], batch["attention_mask"]
                if "pixel_values" in batch:
                    extra["pixel_values"] = batch["pixel_values"].to(device, dtype=model.dtype)
                chunk = [row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)]  # image tokens expanded
            else:
                width = max(len(p) for p in chunk)
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for i, p in enumerate(chunk):
                    ids[i, width - len(p) :] = torch.tensor(p)
                    mask[i, width - len(p) :] = 1
            width = ids.shape[1]
            sample = sampling.temperature > 0
            keep = session is not None and processor is None and len(all_prompts) <= batch_size
            if session is not None and not keep:
                session.clear()  # nothing of it can continue these: do not hold its cache through the call
            with torch.inference_mode():
                cache, decoding, shared = None, nullcontext(), None
                if keep and session is not None:
                    shared = session.continue_prefill(model, chunk, pad, sampling.max_new_tokens)
                if shared is None and processor is None and share_prompts:
                    shared = prefill_shared(model, chunk, pad, sampling.max_new_tokens)
                if shared is not None:
                    ids, mask, cache = shared.input_ids, shared.attention_mask, shared.cache
                    width = ids.shape[1]
                    decoding = shared_decoding(model, shared)
                with decoding:
                    out = model.generate(
                        input_ids=ids.to(device),
                        attention_mask=mask.to(device),
                        **extra,
                        max_new_tokens=sampling.max_new_tokens,
                        do_sample=sample,
                        temperature=sampling.temperature if sample else None,
                        top_p=sampling.top_p if sample else None,
                        top_k=None,
                        eos_token_id=eos,
                        pad_token_id=pad,
                        return_dict_in_generate=True,
                        output_logits=True,
                        use_cache=True,
                        # A pre-allocated cache: the default one concatenates every layer's keys and values at every
                        # step, which on a CPU cost more than the model itself (measured 2-3x slower at batch 32).
                        cache_implementation="static" if processor is None and cache is None else None,
                        **({cache_kwarg(model): cache} if cache is not None else {}),
                    )
            if keep and session is not None:
                session.remember(
                    model,
                    cache if cache is not None else getattr(out, "cache", getattr(out, "past_key_values", None)),
                    out.sequences,
                    mask,
                    [chunk[i] for i in shared.order] if shared is not None else chunk,
                    eos,
                    shared.prefix_width if shared is not None else 0,
                    shared.row_groups() if shared is not None and shared.prefix_width else None,
                )
            new = out.sequences[:, width:].cpu()
            logits = torch.stack(out.logits, dim=1).float().cpu()  # (batch, steps, vocab)
            if shared is not None:  # rows come back in the shared layout's order
                new, logits = shared.restore(new), shared.restore(logits)
            logp = torch.log_softmax(logits, dim=-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
            for i, p in enumerate(chunk):
                toks = new[i].tolist()
                n = toks.index(eos) + 1 if eos in toks else len(toks)
                finished = eos in toks[:n]
                text_ids = toks[: n - 1] if finished else toks[:n]
                results.append(
                    Completion(
                        text=tokenizer.decode(text_ids, skip_special_tokens=False),
                        token_ids=toks[:n],
                        logprobs=logp[i, :n].tolist(),
                        prompt_ids=p,
                        finished=finished,
                    )
                )
    finally:
        model.train(was_training)
    return results
