"""GeneralPoints as a Gymnasium environment (``gengap/GeneralPoints-L-v0`` and ``-VL-v0``).

Observation: ``{"messages": (chat turns as {"role", "content"} dicts, text only), "image": uint8 HxWx3}`` (the
image only for VL). Action: the model's answer text. ``step`` returns the verifier's reward, ``terminated``
when solved, ``truncated`` when the attempt budget is spent (the budget penalty is already in that step's
reward). All game logic lives in :class:`gengap.gp.game.GPEpisode`; this class only adapts it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gengap.core.spaces import CHARSET, MAX_TURN_CHARS, AnyText, chat_space
from gengap.gp.answer import MAX_ANSWER_CHARS
from gengap.gp.formula import MAX_FORMULA_CHARS
from gengap.gp.game import GeneralPoints, GPEpisode
from gengap.gp.splits import get_split

assert MAX_ANSWER_CHARS <= MAX_TURN_CHARS and MAX_FORMULA_CHARS <= MAX_TURN_CHARS


class GeneralPointsEnv(gym.Env):
    """Gymnasium wrapper over :class:`GPEpisode`; options of ``reset`` choose split, hand and budget."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}

    def __init__(
        self,
        vision: bool = False,
        split: str = "id",
        style: str = "paper",
        verify_iter: int = 5,
        image_size: int = 1200,
        render_mode: str | None = None,
        **game_kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.game = GeneralPoints(
            split=get_split(split),
            vision=vision,
            style=style,
            verify_iter=verify_iter,
            image_size=image_size,
            **game_kwargs,
        )
        self.render_mode = render_mode
        obs: dict[str, spaces.Space] = {"messages": chat_space()}
        if vision:
            obs["image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = AnyText(MAX_TURN_CHARS, charset=CHARSET)
        self.episode: GPEpisode | None = None

    def _obs(self) -> dict[str, Any]:
        assert self.episode is not None
        messages = tuple(
            {
                "role": m["role"],
                "content": m["content"] if isinstance(m["content"], str) else self.episode.prompt,
            }
            for m in self.episode.messages
        )
        obs: dict[str, Any] = {"messages": messages}
        if self.game.vision:
            obs["image"] = np.asarray(self.episode.image, dtype=np.uint8)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        game = self.game
        if "split" in options:
            game = game.with_split(options.pop("split"))
        cards = options.pop("cards", None)
        verify_iter = options.pop("verify_iter", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}; valid: split, cards, verify_iter")
        episode_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        self.episode = game.episode(episode_seed, cards=cards, verify_iter=verify_iter)
        return self._obs(), self.episode.reset_info()

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        result = self.episode.step(action)
        return (
            self._obs(),
            float(result.reward),
            result.terminated,
            result.truncated,
            self.episode.step_info(result),
        )

    def render(self) -> Any:
        if self.episode is None:
            return None
        if self.render_mode == "rgb_array":
            return np.asarray(self.episode.image, dtype=np.uint8)
        if self.render_mode == "ansi":
            return "\n\n".join(f"[{m['role']}] {m['content']}" for m in self._obs()["messages"])
        return None
