"""Dealing hands: only solvable ones, reproducibly from a seed.

The default draws each card independently (rank uniform over the 13 ranks, suit uniform over the split's
suits), as the reference does; ``Split.deck`` deals from a real deck instead. Ranks are drawn before suits,
so splits that differ only in suits (``id`` and ``ood-visual``) deal the same ranks for the same seed.
"""

from __future__ import annotations

import random

from gengap.gp.cards import RANKS, Hand
from gengap.gp.solver import is_solvable
from gengap.gp.splits import Split

MAX_REDRAWS = 10_000


def deal(split: Split, rng: random.Random) -> Hand:
    """A solvable hand of ``split`` (with a face card where the split requires one)."""
    values = split.rule.values
    for _ in range(MAX_REDRAWS):
        if split.deck:
            deck = [(r, s) for r in RANKS for s in split.suits]
            cards = rng.sample(deck, split.n_cards)
            ranks = tuple(r for r, _ in cards)
            suits = tuple(s for _, s in cards)
        else:
            idx = [rng.randrange(13) for _ in range(split.n_cards)]
            ranks = tuple(RANKS[i] for i in idx)
            suits = tuple(rng.choice(split.suits) for _ in range(split.n_cards))
        if split.require_face and not any(r in ("J", "Q", "K") for r in ranks):
            continue
        if is_solvable((values[RANKS.index(r)] for r in ranks), split.target):
            return Hand(ranks, suits)
    raise ValueError(f"split {split.name!r}: no solvable hand found in {MAX_REDRAWS} draws; check its target")
