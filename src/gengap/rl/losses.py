"""The PPO objective on turns: clipped surrogate, clipped value loss, entropy bonus, KL to the initial policy.

All functions take per-turn (or per-token) tensors and return a scalar plus the statistics CleanRL logs, so
each term can be tested on known numbers.
"""

from __future__ import annotations

from typing import Any


def policy_loss(new_logp: Any, old_logp: Any, advantages: Any, clip: float) -> tuple[Any, dict[str, float]]:
    """Clipped surrogate ``-E[min(r·A, clip(r, 1-ε, 1+ε)·A)]`` with ``r = exp(new - old)`` per turn."""
    import torch

    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    loss = -torch.min(unclipped, clipped).mean()
    with torch.no_grad():
        stats = {
            "clipfrac": ((ratio - 1.0).abs() > clip).float().mean().item(),
            "approx_kl_old": (-log_ratio).mean().item(),
            "approx_kl": ((ratio - 1.0) - log_ratio).mean().item(),
        }
    return loss, stats


def value_loss(new_values: Any, old_values: Any, returns: Any, clip: float | None) -> Any:
    """``E[max((V - R)², (V_old + clip(V - V_old, ±ε) - R)²)]``; unclipped when ``clip`` is ``None``."""
    import torch

    unclipped = (new_values - returns) ** 2
    if clip is None:
        return unclipped.mean()
    clipped_values = old_values + torch.clamp(new_values - old_values, -clip, clip)
    return torch.max(unclipped, (clipped_values - returns) ** 2).mean()


def token_entropy(logits: Any, mask: Any) -> Any:
    """Mean entropy of the policy's next-token distribution over the answer tokens (``mask`` = 1)."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    ent = -(logp.exp() * logp).sum(-1)
    return (ent * mask).sum() / mask.sum().clamp(min=1)


def kl_to_reference(logp: Any, ref_logp: Any, mask: Any) -> Any:
    """Per-token KL(π‖π_ref) estimated on the sampled tokens (the non-negative "k3" estimator), averaged."""
    d = ref_logp - logp
    k3 = d.exp() - d - 1.0
    return (k3 * mask).sum() / mask.sum().clamp(min=1)


def explained_variance(values: Any, returns: Any) -> float:
    import torch

    var = torch.var(returns)
    return float("nan") if var == 0 else float(1.0 - torch.var(returns - values) / var)
