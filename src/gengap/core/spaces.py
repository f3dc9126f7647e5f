"""Gymnasium spaces for chat environments: observations are conversations, actions are free text."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces

CHARSET = "".join(chr(c) for c in range(32, 127)) + "\n\t♠♣♥♦×÷"
MAX_TURN_CHARS = 16_384


class AnyText(spaces.Text):
    """A text space that contains any string up to ``max_length``: model answers are arbitrary unicode.

    Sampling still draws from a printable charset, so random agents and ``check_env`` work.
    """

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length


def chat_space() -> spaces.Sequence:
    turn = spaces.Dict({"role": AnyText(16, charset=CHARSET), "content": AnyText(MAX_TURN_CHARS, charset=CHARSET)})
    return spaces.Sequence(turn, stack=False)
