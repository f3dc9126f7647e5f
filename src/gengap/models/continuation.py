"""Continue the same conversations in the next turn from the cache of the last one.

A multi-turn episode's next prompt is its last prompt, the model's answer and the verifier's feedback. Prefilling
it from scratch processes the whole history again: in a two-turn GeneralPoints rollout (546-token prompts, 64-token
answers, ~140-token feedback) the second turn's prefill cost as much as decoding a whole turn. A
:class:`GenerationSession` keeps the batch's KV cache after ``generate`` and, when every conversation of the next
call extends one it holds (same token ids: the chat template re-renders the answer as it was generated), prefills
only the new tokens on top of a copy of the kept rows. Anything else (a new conversation in the batch, a changed
model, an answer the template renders differently, images) falls back to a fresh prefill: reuse is an
optimisation that never changes what the caller sees beyond float rounding.

Layout of a continued row, ``C`` the kept cache's filled width and ``S`` the longest new part::

    [kept columns: earlier prompt layout | answer (pad after its end)][pad … | new tokens]

with an attention mask that hides every pad (also those ``generate`` wrote after a row's end-of-turn token), so
positions count real tokens only, exactly as if the whole conversation had been prefilled.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gengap.models.prefix_sharing import SharedPrefill, group_bounds, prefill_columns, supports_sharing

MAX_WIDTH_RATIO = 2.0
"""A continued layout keeps the padding of every earlier turn (answers that ended early, shorter feedback). Past
this ratio of its width to the longest conversation, a fresh prefill is the cheaper way to decode."""


def _fingerprint(model: Any) -> tuple[tuple[int, Any, int], ...]:
    """Changes whenever a parameter is written in place (an optimiser step, ``load_state_dict``: version counters)
    or replaced (``.to(dtype)``, ``p.data = …``, ``load_state_dict(assign=True)``: storage and dtype)."""
    return tuple((p.data_ptr(), p.dtype, p._version) for p in model.parameters())


@dataclass
class _Kept:
    model: Any
    """A weak reference: the session must not keep a model alive, nor mistake a new one at the same address."""
    fingerprint: tuple[tuple[int, Any, int], ...]
    cache: Any
    ids: Any
    """``(rows, C)`` token ids of the cached columns, rows in the cache's order."""
    mask: Any
    """``(rows, C)``: 1 where a cached column holds a real token of the conversation."""
    tokens: list[tuple[int, ...]]
    """Per cached row, the real tokens it holds, in order: what a continuing prompt must start with."""
    prefix_width: int
    groups: list[int] | None
    """Per cached row, its shared-prefix group (the first ``prefix_width`` columns are the group's prefix)."""


class GenerationSession:
    """Keeps the KV cache of the last ``generate`` call so that the next turn of the same conversations prefills
    only what is new. One session per rollout: it holds a whole batch's cache until dropped or replaced."""

    def __init__(self) -> None:
        self._kept: _Kept | None = None
        self.reused_calls = 0
        """How many calls continued from a kept cache (for tests and benchmarks)."""

    def clear(self) -> None:
        self._kept = None

    def remember(
        self,
        model: Any,
        cache: Any,
        sequences: Any,
        prompt_mask: Any,
        prompts: Sequence[Sequence[int]],
        eos: int,
        prefix_width: int = 0,
        groups: Sequence[int] | None = None,
    ) -> None:
        """Keep ``cache`` after a ``generate`` call. All in the cache's row order: ``prompt_mask`` is the
        ``(rows, width)`` attention mask of the prompts' layout, ``prompts`` their token ids, ``sequences`` what
        ``generate`` returned (prompt layout, then the generated tokens), ``groups`` each row's shared-prefix
        group when the first ``prefix_width`` columns hold a group's prefix."""
        import torch
        from transformers.cache_utils import StaticLayer

        self._kept = None
        if not supports_sharing(model):
            return
        layers = getattr(cache, "layers", None)
        if not layers or any(type(layer) is not StaticLayer or not layer.is_initialized for layer in layers):
            return
        width = prompt_mask.shape[1]
        steps = sequences.shape[1] - width
        filled = int(layers[0].cumulative_length)
        if steps < 1 or filled != width + steps - 1:  # the last token never goes through the model
            return
        generated = sequences[:, width:filled].cpu()
        is_eos = generated == eos
        real = (is_eos.long().cumsum(-1) - is_eos.long()) == 0  # up to and with a row's end-of-turn token
        mask = torch.cat([prompt_mask.cpu().long(), real.long()], dim=1)
        tokens = [(*map(int, p), *generated[k][real[k]].tolist()) for k, p in enumerate(prompts)]
        self._kept = _Kept(
            weakref.ref(model),
            _fingerprint(model),
            cache,
            sequences[:, :filled],
            mask.to(sequences.device),
            tokens,
            prefix_width,
            list(groups) if groups is not None else None,
        )

    def continue_prefill(
        self, model: Any, rows: Sequence[Sequence[int]], pad: int, max_new_tokens: int
    ) -> SharedPrefill | None:
        """Prefill ``rows`` on top of the kept cache; ``None`` (and the kept cache dropped) unless every row
        extends a kept conversation of the same, unchanged model."""
        import torch
        from transformers import StaticCache

        kept, self._kept = self._kept, None
        if kept is None or kept.model() is not model or kept.fingerprint != _fingerprint(model):
            return None
        if not supports_sharing(model):
            return None
        by_tokens: dict[tuple[int, ...], int] = {}
        for k, t in enumerate(kept.tokens):
            by_tokens.setdefault(t, k)
        lengths = sorted({len(t) for t in kept.tokens}, reverse=True)
        source: list[int] = []
        for r in rows:
            k = next((by_tokens[tuple(r[:n])] for n in lengths if n < len(r) and tuple(r[:n]) in by_tokens), None)
            if k is None:
                return None
            source.append(k)
        order = list(range(len(rows)))  # the caller's order: a seeded sampler draws for the rows as without a session
        kept_groups = kept.groups
        if kept_groups is not None:  # shared-prefix groups must be contiguous: sorted by first appearance, as a
            rank: dict[int, int] = {}  # fresh shared prefill would lay them out
            for i in order:
                rank.setdefault(kept_groups[source[i]], len(rank))
            order.sort(key=lambda i: rank[kept_groups[source[i]]])
        picked = torch.tensor([source[i] for i in order], device=kept.ids.device)
        filled = kept.ids.shape[1]
        news = [list(rows[i][len(kept.tokens[source[i]]) :]) for i in order]
        width = filled + max(map(len, news))
        if width > MAX_WIDTH_RATIO * max(map(len, rows)):
            return None
        device = kept.ids.device
        ids = torch.full((len(rows), width), pad, dtype=torch.long, device=device)
        mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
        ids[:, :filled] = kept.ids.index_select(0, picked)
        mask[:, :filled] = kept.mask.index_select(0, picked)
        for k, new in enumerate(news):
            ids[k, width - len(new) :] = torch.tensor(new, device=device)
            mask[k, width - len(new) :] = 1
        groups = [kept_groups[source[i]] for i in order] if kept_groups is not None else None
        prefix_width = kept.prefix_width
        cache = StaticCache(config=model.config, max_cache_len=width + max_new_tokens)
        for layer, old in zip(cache.layers, kept.cache.layers, strict=True):
            layer.lazy_initialization(old.keys[:1].expand(len(rows), -1, -1, -1), old.values[:1])
            layer.keys[:, :, :filled] = old.keys[:, :, :filled].index_select(0, picked)
            layer.values[:, :, :filled] = old.values[:, :, :filled].index_select(0, picked)
            layer.cumulative_length.fill_(filled)
        del kept, old  # the old cache may be freed before the new tokens are prefilled
        if width - 1 > filled:
            prefill_columns(model, ids, mask, cache, filled, width - 1)
        bounds = group_bounds(groups) if groups is not None else []
        self.reused_calls += 1
        return SharedPrefill(ids, mask, cache, prefix_width if groups else 0, order, bounds)
