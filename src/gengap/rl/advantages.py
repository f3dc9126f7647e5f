"""Generalised advantage estimation over the turns of multi-turn episodes.

Advantages never flow across episodes: each episode is walked backwards on its own. Its last turn
bootstraps from 0 when the episode ended (``terminal``) and from the value of the next state when the
rollout cut it short (``cut``). The reference implementation flattened all turns into one stream and, after a
truncation, bootstrapped from the first turn of the *next* episode; that is the defect this module avoids.
"""

from __future__ import annotations

from collections.abc import Sequence


def gae(
    rewards: Sequence[float],
    values: Sequence[float],
    episode: Sequence[int],
    terminal: Sequence[bool],
    cut: Sequence[bool],
    bootstrap: Sequence[float],
    *,
    gamma: float = 0.9,
    lam: float = 0.95,
) -> tuple[list[float], list[float]]:
    """``(advantages, returns)`` per turn. Turns of an episode must appear in play order (any interleaving).

    ``bootstrap[t]`` is the value of the state after turn ``t``; it is read only where ``cut[t]``.
    """
    n = len(rewards)
    if not (len(values) == len(episode) == len(terminal) == len(cut) == len(bootstrap) == n):
        raise ValueError("gae: all inputs must have one entry per turn")
    by_episode: dict[int, list[int]] = {}
    for t, e in enumerate(episode):
        by_episode.setdefault(e, []).append(t)
    adv = [0.0] * n
    for e, idx in by_episode.items():
        last = idx[-1]
        if terminal[last] == cut[last]:
            raise ValueError(
                f"episode {e} must end with exactly one of terminal or cut (got {terminal[last]}, {cut[last]})"
            )
        if any(terminal[t] or cut[t] for t in idx[:-1]):
            raise ValueError(f"episode {e} has turns after its end")
        next_value = 0.0 if terminal[last] else float(bootstrap[last])
        running = 0.0
        for t in reversed(idx):
            delta = rewards[t] + gamma * next_value - values[t]
            running = delta + gamma * lam * running
            adv[t] = running
            next_value = values[t]
    returns = [a + v for a, v in zip(adv, values, strict=True)]
    return adv, returns
