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
from typing import Any

from gengap.core.chat_env import ChatEnv
from gengap.virl.game import VIRL

_OPTIONS = ("split", "world", "verify_iter", "district")


class VIRLEnv(ChatEnv):
    """Gymnasium wrapper over :class:`gengap.virl.game.VIRLEpisode`."""

    def __init__(
        self,
        vision: bool = False,
        world: str | None = None,
        split: str | None = None,
        style: str | None = None,
        verify_iter: int | None = None,
        image_size: int | None = None,
        render_mode: str | None = None,
        **game_kwargs: Any,
    ) -> None:
        settings = dict(world=world, split=split, style=style, verify_iter=verify_iter, image_size=image_size)
        # unset settings take the game's defaults (declared once, on :class:`VIRL`)
        self.game = VIRL(vision=vision, **{k: v for k, v in settings.items() if v is not None}, **game_kwargs)
        super().__init__(vision, self.game.image_size, render_mode)

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
        self.episode = game.episode(self._episode_seed(seed), verify_iter=options.get("verify_iter"))
        return self._obs(), self.episode.reset_info()

    def render_image(self) -> Any:
        from gengap.virl.render import render_views

        ep = self.episode
        if self.vision:
            return ep.images()[0]
        return render_views(ep.game.the_world, ep.route, ep.index, style=ep.game.split.style, size=self.game.image_size)
