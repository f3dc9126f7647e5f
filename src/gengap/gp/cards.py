"""Cards as the study names them: rank strings ``"A"``, ``"2"`` … ``"10"``, ``"J"``, ``"Q"``, ``"K"`` and four suits.

Kept free of any rule: what a card is *worth* depends on the rule in force (see :mod:`gengap.gp.rules`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RANKS: tuple[str, ...] = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
FACE_RANKS: tuple[str, ...] = ("J", "Q", "K")
RANK_INDEX: dict[str, int] = {r: i + 1 for i, r in enumerate(RANKS)}  # A=1 … K=13

SUITS: tuple[str, ...] = ("spades", "clubs", "hearts", "diamonds")
BLACK_SUITS: tuple[str, ...] = ("spades", "clubs")
RED_SUITS: tuple[str, ...] = ("hearts", "diamonds")
SUIT_SYMBOLS: dict[str, str] = {"spades": "♠", "clubs": "♣", "hearts": "♥", "diamonds": "♦"}

_WORDS = {"ace": "A", "jack": "J", "queen": "Q", "king": "K", "ten": "10"}
_RANK_RE = re.compile(r"^\s*(10|[2-9]|[ajqk])(?![0-9])", re.IGNORECASE)  # "KS", "Q♥", "10 of clubs"
_WORD_RE = re.compile(r"^\s*(ace|jack|queen|king|ten)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Hand:
    """The cards dealt for one episode, as rank strings and suit names in table order."""

    ranks: tuple[str, ...]
    suits: tuple[str, ...]

    def __post_init__(self) -> None:
        assert len(self.ranks) == len(self.suits), "every card needs a suit"
        assert all(r in RANK_INDEX for r in self.ranks), self.ranks
        assert all(s in SUIT_SYMBOLS for s in self.suits), self.suits

    def __len__(self) -> int:
        return len(self.ranks)

    @property
    def has_face(self) -> bool:
        return any(r in FACE_RANKS for r in self.ranks)


_EXACT: dict[object, str] = {r: r for r in RANKS} | {r.lower(): r for r in (*FACE_RANKS, "A")}
_EXACT.update({i + 1: r for i, r in enumerate(RANKS)})


def rank_of(token: object) -> str | None:
    """Read a card rank from how a model might write it; ``None`` when it is not a card.

    Accepts rank strings in any case ("j", "10"), words ("Jack", "ace"), a rank followed by a suit
    ("10♠", "Q of hearts", "KS") and integers 1–13 (1 → A, 11 → J, 12 → Q, 13 → K), because models
    write the cards field in all of these ways and a recognition metric must not punish spelling.
    """
    if isinstance(token, bool):
        return None
    try:
        return _EXACT[token]  # the common case, a plain rank string or number
    except (KeyError, TypeError):
        pass
    if isinstance(token, int):
        return RANKS[token - 1] if 1 <= token <= 13 else None
    if isinstance(token, float):
        return rank_of(int(token)) if token.is_integer() else None
    if not isinstance(token, str) or len(token) > 32:
        return None
    text = token.strip()
    if text.isascii() and text.isdigit():
        return rank_of(int(text))
    m = _WORD_RE.match(text)
    if m:
        return _WORDS[m.group(1).lower()]
    m = _RANK_RE.match(text)
    if m:
        return m.group(1).upper()
    return None
