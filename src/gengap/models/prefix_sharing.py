"""Prefill a shared prompt prefix once for the whole group of rows that starts with it.

Prefill is most of the work of a rollout with long prompts: a 546-token GeneralPoints prompt and 64 new tokens
spend ~70 % of their time there at batch 32. Yet the rows of a rollout batch share most of their prompts: GRPO
samples every prompt several times, the second turn of an episode repeats its first prompt, and every prompt
of a task starts with the same instructions. Here the rows are split into groups that share a prefix; each
group's prefix goes through the model once, its keys and values are copied to the group's rows, and each row's
own remainder is prefilled on top. ``generate`` then continues from the last prompt token exactly as if it had
prefilled the whole batch (same positions, same masked attention: only the layout of padding differs).

Layout of a row, ``P`` and ``S`` the longest prefix and remainder::

    [pad … | group prefix][pad … | own remainder]   ← P columns, then S columns; generated tokens follow

Position ids count real tokens only (what ``generate`` derives from the attention mask), so padding in the
middle changes nothing for the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

MIN_SHARED = 16
"""Below this many shared tokens a group is not worth a separate prefill."""
MIN_SAVED_SHARE = 0.2
"""Below this share of the batch's prompt tokens saved, the plain layout is as fast (measured: 10 % saved by 32
distinct GeneralPoints prompts made decoding slower, not faster)."""


@dataclass(frozen=True)
class SharingPlan:
    group: list[int]
    """Row → group index."""
    prefix: list[int]
    """Group → length of its shared prefix (always shorter than each of its rows)."""

    def saved_tokens(self) -> int:
        sizes = [self.group.count(g) for g in range(len(self.prefix))]
        return sum((n - 1) * p for n, p in zip(sizes, self.prefix, strict=True))


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def plan_sharing(rows: Sequence[Sequence[int]]) -> SharingPlan | None:
    """The grouping that saves the most prefill, among those that split the rows by their first ``m`` tokens.

    Candidates are every ``m`` at which two rows part ways: ``m`` small puts everything in one group with the
    task's common instructions as prefix; ``m`` large keeps the samples of one prompt together with their
    whole shared prompt. ``None`` when nothing worth sharing is found.
    """
    n = len(rows)
    if n < 2:
        return None
    cut = [len(r) - 1 for r in rows]  # every row keeps at least its last token for ``generate``
    lcp = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            lcp[i][j] = lcp[j][i] = min(_common_prefix(rows[i], rows[j]), cut[i], cut[j])
    best: SharingPlan | None = None
    for m in sorted({v + 1 for i in range(n) for v in lcp[i][i + 1 :]} | {1}):
        group: list[int] = []
        leaders: list[int] = []
        for i in range(n):
            for g, lead in enumerate(leaders):
                if lcp[i][lead] >= m:
                    group.append(g)
                    break
            else:
                group.append(len(leaders))
                leaders.append(i)
        prefix = []
        for g in range(len(leaders)):
            members = [i for i in range(n) if group[i] == g]
            prefix.append(min((lcp[members[0]][j] for j in members[1:]), default=0))
        plan = SharingPlan(group, [p if p >= MIN_SHARED else 0 for p in prefix])
        if best is None or plan.saved_tokens() > best.saved_tokens():
            best = plan
    if best is None or best.saved_tokens() < MIN_SAVED_SHARE * sum(len(r) for r in rows):
        return None
    return best


def supports_sharing(model: Any) -> bool:
    """Whether the layouts of this module and :mod:`gengap.models.continuation` (padding between a shared prefix
    and a row's own tokens) are known to give the same results: ``sdpa`` and ``eager`` attention, tested here. A
    model on another kernel (FlashAttention on a GPU) generates the plain way."""
    return getattr(model.config, "_attn_implementation", None) in ("sdpa", "eager")


def cache_kwarg(model: Any) -> str:
    """The keyword for a KV cache: ``cache`` in recent transformers, ``past_key_values`` before it."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT passes keywords through
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def group_bounds(groups: Sequence[int]) -> list[tuple[int, int]]:
    """Rows' group indices, equal ones adjacent → each group's ``(start, end)`` slice, in order of appearance."""
    bounds: list[tuple[int, int]] = []
    for k, g in enumerate(groups):
        if k and groups[k - 1] == g:
            bounds[-1] = (bounds[-1][0], k + 1)
        else:
            bounds.append((k, k + 1))
    return bounds


def prefill_columns(model: Any, ids: Any, mask: Any, cache: Any, start: int, stop: int) -> None:
    """Feed columns ``[start, stop)`` of a padded layout through ``model`` into ``cache`` (which holds the columns
    before ``start``), with positions that count real tokens only, as ``generate`` derives them from the mask."""
    positions = (mask[:, :stop].cumsum(-1) - 1).clamp(min=0)
    model(
        input_ids=ids[:, start:stop],
        attention_mask=mask[:, :stop],
        position_ids=positions[:, start:stop],
        use_cache=True,
        **{cache_kwarg(model): cache},
    )


@dataclass
class SharedPrefill:
    """What ``generate`` continues from: the prompts in a new layout and row order, and the cache holding all but
    their last token.

    Rows are sorted by group (``order[k]`` is the caller's row now at ``k``) so that every group is a contiguous
    slice ``bounds[g] = (start, end)`` of the batch: the decoding attention then works on views, not copies.
    """

    input_ids: Any
    attention_mask: Any
    cache: Any
    prefix_width: int
    order: list[int]
    bounds: list[tuple[int, int]]

    def row_groups(self) -> list[int]:
        """Each row's group index (rows in this layout's order)."""
        return [g for g, (a, b) in enumerate(self.bounds) for _ in range(a, b)]

    def restore(self, tensor: Any) -> Any:
        """``tensor``'s rows (in this layout's order) back in the caller's order."""
        import torch

        inverse = torch.empty(len(self.order), dtype=torch.long)
        inverse[torch.tensor(self.order)] = torch.arange(len(self.order))
        return tensor[inverse.to(tensor.device)]


def prefill_shared(model: Any, rows: Sequence[Sequence[int]], pad: int, max_new_tokens: int) -> SharedPrefill | None:
    """Prefill ``rows`` (prompt token ids) sharing their prefixes; ``None`` when no prefix is worth sharing or
    the model's cache is not a plain static one (sliding windows, hybrid models)."""
    import torch
    from transformers import StaticCache
    from transformers.cache_utils import StaticLayer

    plan = plan_sharing(rows) if supports_sharing(model) else None
    if plan is None:
        return None
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: plan.group[i])
    groups = [plan.group[i] for i in order]
    bounds = group_bounds(groups)
    p_width = max(plan.prefix)
    s_width = max(len(r) - plan.prefix[plan.group[i]] for i, r in enumerate(rows))
    width = p_width + s_width
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, i in enumerate(order):
        r, p = rows[i], plan.prefix[plan.group[i]]
        rest = r[p:]
        if p:
            ids[k, p_width - p : p_width] = torch.tensor(r[:p])
            mask[k, p_width - p : p_width] = 1
        ids[k, width - len(rest) :] = torch.tensor(rest)
        mask[k, width - len(rest) :] = 1
    ids, mask = ids.to(device), mask.to(device)

    cache = StaticCache(config=model.config, max_cache_len=width + max_new_tokens)
    if any(type(layer) is not StaticLayer for layer in cache.layers):  # sliding windows, hybrid models
        return None
    if p_width:
        leaders = torch.tensor([a for a, _ in bounds], device=device)
        prefill_columns(model, ids[leaders], mask[leaders], cache, 0, p_width)
        expand = torch.tensor(groups, device=device)
        for layer in cache.layers:
            layer.keys = layer.keys.index_select(0, expand)
            layer.values = layer.values.index_select(0, expand)
            layer.batch_size = len(rows)
    if width - 1 > p_width:
        prefill_columns(model, ids, mask, cache, p_width, width - 1)
    return SharedPrefill(ids, mask, cache, p_width, order, bounds)


# --- decoding: attention to a shared prefix read once per group ------------------------------------------------

ATTENTION = "gengap_shared_prefix"
_ACTIVE: ContextVar[tuple[int, list[tuple[int, int]], list[Any], list[Any], Any] | None] = ContextVar(
    "gengap_shared_prefix", default=None
)
"""While decoding: prefix width, group bounds, per layer each group's prefix keys and values (one contiguous
copy per group, so the products read them without gathering), and the rows' cache (how far it is filled)."""


def shared_prefix_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention for one new token per row that reads each group's prefix keys and values once.

    After prefill, decoding is bound by memory traffic: every step reads every row's whole cache, the long
    prompt included (measured on one core: two thirds of a decode step in the attention's matrix products at
    batch 32 with 546-token prompts). The rows of a group hold the same prefix, so the scores against it are
    computed with the group leader's copy for all members at once; the row's own part (remainder and answer so
    far) is read per row; one softmax spans both, so the result is exact. Prefill steps, and any call outside
    :func:`shared_decoding`, go to the stock ``sdpa`` attention.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    active = _ACTIVE.get()
    if active is None or query.shape[2] != 1:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    p, bounds, prefix_keys, prefix_values, cache = active
    layer = getattr(module, "layer_idx", None)
    if layer is None:
        heads_of = [a for a, _ in bounds]
        pk, pv = key[heads_of, :, :p], value[heads_of, :, :p]
    else:
        pk, pv = prefix_keys[layer], prefix_values[layer]  # (groups, kv_heads, p, dim)
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    rep = heads // kv_heads
    scale = scaling if scaling is not None else dim**-0.5
    q = query.reshape(batch, kv_heads, rep, dim)  # grouped-query heads share their key head
    end = key.shape[2]
    if layer is not None and key.device.type == "cpu":  # the static cache's unfilled end need not be read (on
        end = int(cache.layers[layer].cumulative_length)  # an accelerator, asking how far it is would stall it)
    own_k, own_v = key[:, :, p:end], value[:, :, p:end]
    own = torch.matmul(q, own_k.transpose(-1, -2)) * scale  # (batch, kv_heads, rep, own length)
    visible = None
    if attention_mask is not None:
        m = attention_mask[:, 0, -1, :end]
        visible = m if m.dtype == torch.bool else m == 0
        own = own.masked_fill(~visible[:, None, None, p:], float("-inf"))
    sizes = {b - a for a, b in bounds}
    if len(sizes) == 1:  # equal groups (GRPO): one batched product over all groups
        n = sizes.pop()
        qg = q.view(len(bounds), n, kv_heads, rep, dim).transpose(1, 2).reshape(len(bounds), kv_heads, n * rep, dim)
        shared = torch.matmul(qg, pk.transpose(-1, -2)) * scale  # (groups, kv, n·rep, p)
        if visible is not None:
            shared = shared.masked_fill(~visible[::n, None, None, :p], float("-inf"))
        mine = own.view(len(bounds), n, kv_heads, rep, -1).transpose(1, 2).reshape(len(bounds), kv_heads, n * rep, -1)
        weights = torch.softmax(torch.cat([shared, mine], dim=-1), dim=-1)
        out = torch.matmul(weights[..., :p], pv)  # (groups, kv, n·rep, dim)
        out = out.view(len(bounds), kv_heads, n, rep, dim).transpose(1, 2).reshape(batch, kv_heads, rep, dim)
        w_own = weights[..., p:].reshape(len(bounds), kv_heads, n, rep, -1).transpose(1, 2)
        out = out + torch.matmul(w_own.reshape(batch, kv_heads, rep, -1), own_v)
    else:
        out = torch.empty_like(q)
        for g, (a, b) in enumerate(bounds):
            n = b - a
            qg = q[a:b].transpose(0, 1).reshape(kv_heads, n * rep, dim)
            shared = torch.matmul(qg, pk[g].transpose(-1, -2)) * scale
            if visible is not None:
                shared = shared.masked_fill(~visible[a, None, None, :p], float("-inf"))
            mine = own[a:b].transpose(0, 1).reshape(kv_heads, n * rep, -1)
            weights = torch.softmax(torch.cat([shared, mine], dim=-1), dim=-1)
            part = torch.matmul(weights[..., :p], pv[g]).view(kv_heads, n, rep, dim).transpose(0, 1)
            w_own = weights[..., p:].reshape(kv_heads, n, rep, -1).transpose(0, 1)
            out[a:b] = part + torch.matmul(w_own, own_v[a:b])
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


@contextmanager
def shared_decoding(model: Any, prefill: SharedPrefill) -> Iterator[None]:
    """Within this block ``model`` decodes with :func:`shared_prefix_attention` for ``prefill``'s groups.

    Only models on ``sdpa`` or ``eager`` attention are switched (their results do not change); a model on a
    fused kernel (FlashAttention on a GPU) keeps it.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    config = model.config
    original = getattr(config, "_attn_implementation", None)
    if original not in ("sdpa", "eager") or not prefill.prefix_width:
        yield
        return
    AttentionInterface.register(ATTENTION, shared_prefix_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    p, leaders = prefill.prefix_width, [a for a, _ in prefill.bounds]
    keys = [layer.keys[leaders, :, :p].contiguous() for layer in prefill.cache.layers]
    values = [layer.values[leaders, :, :p].contiguous() for layer in prefill.cache.layers]
    token = _ACTIVE.set((p, prefill.bounds, keys, values, prefill.cache))
    config._attn_implementation = ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = original
        _ACTIVE.reset(token)
