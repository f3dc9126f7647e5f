"""GeneralPoints as a Gymnasium environment (``gengap/GeneralPoints-L-v0`` and ``-VL-v0``).

Observation: ``{"messages": (chat turns as {"role", "content"} dicts, text only), "image": uint8 HxWx3}`` (the
image only for VL). Action: the model's answer text. ``step`` returns the verifier's reward, ``terminated``
when solved, ``truncated`` when the attempt budget is spent (the budget penalty is already in that step's
reward). All game logic lives in :class:`gengap.gp.game.GPEpisode`; this class only adapts it.

``step``'s ``info``: ``outcome``, ``feedback``, ``attempt``, ``budget_exhausted``, ``partial``, ``parsed``,
``value`` and ``solutions``. ``solutions`` is a lazy sequence (:class:`gengap.gp.game.Solutions`): the hand is
solved the first time you index, iterate, measure or compare it (milliseconds, once per hand), never by
``step`` itself, so a step costs about as much as verifying the answer. ``list(info["solutions"])`` gives a
plain list. An answer longer than ``MAX_ANSWER_CHARS`` is scored ``too_long`` without being read, and the chat
keeps at most that many characters of it (cut with a visible marker), so observations stay inside the
observation space. ``reset(options={"cards": …})`` accepts 1 to ``gengap.gp.solver.MAX_CARDS`` ranks.
"""

from __future__ import annotations

from typing import Any

from gengap.core.chat_env import ChatEnv
from gengap.core.spaces import MAX_TURN_CHARS
from gengap.gp.answer import MAX_ANSWER_CHARS
from gengap.gp.formula import MAX_FORMULA_CHARS
from gengap.gp.game import GeneralPoints

assert MAX_ANSWER_CHARS <= MAX_TURN_CHARS and MAX_FORMULA_CHARS <= MAX_TURN_CHARS


class GeneralPointsEnv(ChatEnv):
    """Gymnasium wrapper over :class:`GPEpisode`; options of ``reset`` choose split, hand and budget."""

    def __init__(
        self,
        vision: bool = False,
        split: str | None = None,
        style: str | None = None,
        verify_iter: int | None = None,
        image_size: int | None = None,
        render_mode: str | None = None,
        **game_kwargs: Any,
    ) -> None:
        settings = dict(split=split, style=style, verify_iter=verify_iter, image_size=image_size)
        # unset settings take the game's defaults (declared once, on :class:`GeneralPoints`)
        self.game = GeneralPoints(vision=vision, **{k: v for k, v in settings.items() if v is not None}, **game_kwargs)
        super().__init__(vision, self.game.image_size, render_mode)

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
        self.episode = game.episode(self._episode_seed(seed), cards=cards, verify_iter=verify_iter)
        return self._obs(), self.episode.reset_info()

    def render_image(self) -> Any:
        return self.episode.image  # the table, also for the language game (the cards it lists)
