"""The Gymnasium side shared by every game: observations are the chat of the current turn, actions are text.

A game's environment subclasses :class:`ChatEnv`, builds its settings object and starts an episode in
``reset``; stepping, observations, the spaces and text rendering are the same for all games, because every
episode follows the :class:`~gengap.core.episode.Episode` contract.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gengap.core.episode import Episode
from gengap.core.spaces import CHARSET, MAX_TURN_CHARS, AnyText, chat_space


class ChatEnv(gym.Env):
    """Observation ``{"messages": (turns as {"role", "content"}, text only), "image": uint8 HxWx3}`` (the image
    only for vision games); action: the answer text; ``info`` of ``step`` from the episode's ``step_info``."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}

    def __init__(self, vision: bool, image_size: int, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.vision = vision
        obs: dict[str, spaces.Space] = {"messages": chat_space()}
        if vision:
            obs["image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = AnyText(MAX_TURN_CHARS, charset=CHARSET)
        self.episode: Any = None

    def _obs(self) -> dict[str, Any]:
        ep: Episode = self.episode
        messages = tuple(
            {"role": m["role"], "content": m["content"] if isinstance(m["content"], str) else ep.prompt}
            for m in ep.messages
        )
        obs: dict[str, Any] = {"messages": messages}
        if self.vision:
            obs["image"] = np.asarray(ep.images()[0], dtype=np.uint8)
        return obs

    def _episode_seed(self, seed: int | None) -> int:
        return seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        result = self.episode.step(action)
        return self._obs(), float(result.reward), result.terminated, result.truncated, self.episode.step_info(result)

    def render_image(self) -> Any:
        """The picture of the current state (a PIL image) for ``render_mode="rgb_array"``."""
        raise NotImplementedError

    def render(self) -> Any:
        if self.episode is None:
            return None
        if self.render_mode == "rgb_array":
            return np.asarray(self.render_image(), dtype=np.uint8)
        if self.render_mode == "ansi":
            return "\n\n".join(f"[{m['role']}] {m['content']}" for m in self._obs()["messages"])
        return None
