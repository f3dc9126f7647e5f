"""V-IRL as a Gymnasium environment (``gengap/VIRL-L-v0`` and ``gengap/VIRL-VL-v0``).

Observation: ``{"messages": (the current point's chat turns, text only), "image": uint8 HxWx3}`` (the 2×2
street views, VL only). Action: the model's answer text. ``reset(seed=…, options={"split", "world",
"verify_iter", "district"})``; ``info`` holds ``route_id``, ``instruction`` and ``expert_action`` (for oracle
policies and diagnostics; never shown to the model). A correct answer earns +1 and moves on; the walk
ends ``terminated`` at a correct ``stop()`` and ``truncated`` when a point's attempts are spent
(``info["budget_exhausted"]``). All logic lives in :class:`gengap.virl.game.VIRLEpisode`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gengap.core.spaces import CHARSET, MAX_TURN_CHARS, AnyText, chat_space
from gengap.virl.game import VIRL, VIRLEpisode
from gengap.virl.splits import get_split

_OPTIONS = ("split", "world", "verify_iter", "district")


class VIRLEnv(gym.Env):
    """Gymnasium wrapper over :class:`VIRLEpisode`."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}

    def __init__(
        self,
        vision: bool = False,
        world: str = "helsinki",
        split: str = "id",
        style: str = "paper",
        verify_iter: int = 2,
        image_size: int = 512,
        render_mode: str | None = None,
        **game_kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.game = VIRL(
            world=world,
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
        self.episode: VIRLEpisode | None = None

    def _obs(self) -> dict[str, Any]:
        ep = self.episode
        assert ep is not None
        messages = tuple(
            {"role": m["role"], "content": m["content"] if isinstance(m["content"], str) else ep.prompt}
            for m in ep.messages
        )
        obs: dict[str, Any] = {"messages": messages}
        if self.game.vision:
            obs["image"] = np.asarray(ep.images()[0], dtype=np.uint8)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: {', '.join(_OPTIONS)}")
        game = self.game
        if "split" in options:
            game = game.with_split(options["split"])
        if "world" in options:
            game = replace(game, world=str(options["world"]))
        if "district" in options:
            game = replace(game, district=options["district"])
        episode_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        self.episode = game.episode(episode_seed, verify_iter=options.get("verify_iter"))
        return self._obs(), self.episode.reset_info()

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict]:
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        result = self.episode.step(action)
        return self._obs(), float(result.reward), result.terminated, result.truncated, self.episode.step_info(result)

    def render(self) -> Any:
        if self.episode is None:
            return None
        if self.render_mode == "rgb_array":
            from gengap.virl.render import render_views

            ep = self.episode
            image = (
                ep.images()[0]
                if self.game.vision
                else render_views(
                    ep.game.the_world, ep.route, ep.index, style=ep.game.split.style, size=self.game.image_size
                )
            )
            return np.asarray(image, dtype=np.uint8)
        if self.render_mode == "ansi":
            return "\n\n".join(f"[{m['role']}] {m['content']}" for m in self._obs()["messages"])
        return None
