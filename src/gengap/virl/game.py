"""V-IRL navigation as a framework-free, multi-turn episode (the same contract as GeneralPoints).

:class:`VIRL` holds the settings (world, split, language or vision, prompt style, attempts per point);
:meth:`VIRL.episode` draws the route of a seed and returns a :class:`VIRLEpisode`. At each rail point the
model gets one user turn (directions, history, current observation); a correct answer moves the agent to
the next point and starts a fresh turn whose history records it; a wrong one is not executed, and the
feedback is appended so the model can revise, up to ``verify_iter`` attempts per point.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gengap.core.episode import Message, StepResult, episode_seed, text_only
from gengap.virl.prompts import STYLES, action_list, feedback_prompt, format_answer, observation_text, user_prompt
from gengap.virl.routes import RailPoint, Route, RouteConfig, route_for
from gengap.virl.splits import DISTRICTS, VIRLSplit, get_split
from gengap.virl.verifier import REWARDS, Outcome, Verdict, VIRLRewards, verify
from gengap.virl.world import World
from gengap.virl.worlds import get_world


@dataclass(frozen=True)
class VIRL:
    """Settings of a V-IRL task; cheap to create and immutable."""

    world: str = "helsinki"
    """A world name or path (see :func:`gengap.virl.worlds.get_world`)."""
    split: VIRLSplit = field(default_factory=lambda: get_split("id"))
    vision: bool = False
    style: str = "paper"
    verify_iter: int = 2
    """Attempts per rail point (the paper uses 2)."""
    district: str | None = None
    """Override the split's district (``train``, ``test`` or ``all``)."""
    rewards: VIRLRewards = REWARDS
    routes: RouteConfig = field(default_factory=RouteConfig)
    image_size: int = 512
    view_style: str | None = None
    """Override the split's street-view style."""

    def __post_init__(self) -> None:
        if isinstance(self.split, str | dict):
            object.__setattr__(self, "split", get_split(self.split))
        if self.style not in STYLES:
            raise ValueError(f"unknown prompt style {self.style!r}; choose one of {STYLES}")
        if self.verify_iter < 1:
            raise ValueError(f"verify_iter must be at least 1, got {self.verify_iter}")
        if self.district is not None and self.district not in DISTRICTS:
            raise ValueError(f"district must be one of {DISTRICTS}, got {self.district!r}")
        if self.image_size < 16 or self.image_size % 2:
            raise ValueError(f"image_size must be an even number of pixels (two views per row), got {self.image_size}")

    @property
    def the_world(self) -> World:
        return get_world(self.world)

    def with_split(self, split: str | VIRLSplit) -> VIRL:
        return replace(self, split=get_split(split))

    def route(self, seed: int) -> Route:
        return route_for(self.the_world, seed, district=self.district or self.split.district, config=self.routes)

    def episode(self, seed: int, verify_iter: int | None = None) -> VIRLEpisode:
        if verify_iter is not None and verify_iter < 1:
            raise ValueError(f"verify_iter must be at least 1, got {verify_iter}")
        return VIRLEpisode(self, self.route(seed), seed, verify_iter or self.verify_iter)

    def episodes(self, seed: int, n: int) -> list[VIRLEpisode]:
        """The evaluation set of ``(split, seed)``: episode ``k`` is ``episode(episode_seed(seed, k))``."""
        return [self.episode(episode_seed(seed, k)) for k in range(n)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "world": self.world,
            "split": self.split.to_dict(),
            "vision": self.vision,
            "style": self.style,
            "verify_iter": self.verify_iter,
            "district": self.district,
            "image_size": self.image_size,
            "view_style": self.view_style,
        }


class VIRLEpisode:
    """One route, walked point by point with up to ``verify_iter`` attempts per point."""

    def __init__(self, game: VIRL, route: Route, seed: int, verify_iter: int) -> None:
        self.game = game
        self.route = route
        self.seed = seed
        self.verify_iter = verify_iter
        self.index = 0
        """Rail point the agent stands on."""
        self.attempts_here = 0
        self.history: list[tuple[str, str]] = []
        self.verdicts: list[Verdict] = []
        self.points: list[int] = []
        """Rail index of each answer (for per-point analyses)."""
        self.rewards: list[float] = []
        self.transcripts: list[list[Message]] = []
        self.done = False
        self.success = False
        self._images: dict[int, Any] = {}
        self.messages: list[Message] = self._turn()

    # ------------------------------------------------------------------ what the model sees

    @property
    def point(self) -> RailPoint:
        return self.route.rail[self.index]

    @property
    def allowed(self) -> tuple[str, ...]:
        return action_list(self.game.split.directions)

    @property
    def expert_action(self) -> str:
        return self.point.action(self.game.split.actions)

    def observation(self, style: str | None = None) -> str:
        p = self.point
        return observation_text(p.landmarks, p.intersection, style=style or self.game.style)

    def _turn(self) -> list[Message]:
        game = self.game
        prompt = user_prompt(
            self.route.instruction_text(),
            game.split.directions,
            self.history,
            None if game.vision else self.observation(),
            style=game.style,
        )
        self.prompt = prompt
        content: Any = [{"type": "image"}, {"type": "text", "text": prompt}] if game.vision else prompt
        return [{"role": "user", "content": content}]

    def images(self) -> list[Any]:
        if not self.game.vision:
            return []
        if self.index not in self._images:
            from gengap.virl.render import render_views

            game = self.game
            self._images = {
                self.index: render_views(
                    game.the_world,
                    self.route,
                    self.index,
                    style=game.view_style or game.split.style,
                    size=game.image_size,
                )
            }
        return [self._images[self.index]]

    def expert_answer(self) -> str:
        """The optimal answer at the current point, in the game's style."""
        p = self.point
        return format_answer(
            self.observation(),
            p.instruction,
            self.route.instruction[p.instruction - 1],
            self.expert_action,
            style=self.game.style,
        )

    # ------------------------------------------------------------------ acting

    def step(self, answer: str) -> StepResult:
        """Score ``answer`` at the current point; a correct one moves the agent on, a wrong one is not executed."""
        if self.done:
            raise RuntimeError("this episode has ended; start a new one")
        game, point = self.game, self.point
        verdict = verify(answer, self.expert_action, point.intersection, self.allowed, game.rewards)
        self.verdicts.append(verdict)
        self.points.append(self.index)
        self.messages.append({"role": "assistant", "content": answer if isinstance(answer, str) else str(answer)})
        reward = verdict.reward
        terminated = truncated = False
        if verdict.outcome is Outcome.CORRECT:
            self.history.append((self.observation("paper"), self.expert_action))
            self.transcripts.append(self.messages)
            self.attempts_here = 0
            if point.kind == "stop":
                terminated = self.success = True
            else:
                self.index += 1
                self.messages = self._turn()
        else:
            self.attempts_here += 1
            if self.attempts_here >= self.verify_iter:
                truncated = True
                reward += game.rewards.budget_exhausted
                self.transcripts.append(self.messages)
            else:
                self.messages.append({"role": "user", "content": feedback_prompt(verdict.feedback, style=game.style)})
        self.rewards.append(reward)
        self.done = terminated or truncated
        return StepResult(
            reward,
            terminated,
            truncated,
            verdict.outcome.value,
            verdict.feedback,
            {"verdict": verdict, "budget_exhausted": truncated},
        )

    # ------------------------------------------------------------------ measurements

    @property
    def step_accuracy(self) -> float:
        """Share of answers whose action equals the expert action (every attempt is a sample), the paper's
        V-IRL metric. It looks at the action alone: a right action with a wrong observation still counts."""
        if not self.verdicts:
            return 0.0
        space = self.game.split.actions
        hits = sum(
            v.answer.action == self.route.rail[i].action(space) for v, i in zip(self.verdicts, self.points, strict=True)
        )
        return hits / len(self.verdicts)

    def reset_info(self) -> dict[str, Any]:
        return {
            "route_id": self.route.id,
            "instruction": self.route.instruction_text(),
            "expert_action": self.expert_action,
            "split": self.game.split.name,
            "world": self.route.world,
            "seed": self.seed,
            "point": self.index,
            "n_points": len(self.route.rail),
            "verify_iter": self.verify_iter,
        }

    def step_info(self, result: StepResult) -> dict[str, Any]:
        verdict: Verdict = result.info["verdict"]
        ans = verdict.answer
        return {
            "outcome": result.outcome,
            "feedback": result.feedback,
            "budget_exhausted": result.info["budget_exhausted"],
            "route_id": self.route.id,
            "point": self.index,
            "n_points": len(self.route.rail),
            "expert_action": None if self.done else self.expert_action,
            "parsed": {"observation": ans.observation, "instruction": ans.instruction, "action": ans.action},
        }

    def record(self) -> dict[str, Any]:
        """A JSON-ready account of the episode: route, every answer's outcome, the conversations."""
        transcripts = self.transcripts + ([] if self.done else [self.messages])
        return {
            "seed": self.seed,
            "split": self.game.split.name,
            "vision": self.game.vision,
            "route_id": self.route.id,
            "world": self.route.world,
            "n_points": len(self.route.rail),
            "reached": self.index,
            "success": self.success,
            "step_accuracy": self.step_accuracy,
            "answers": len(self.verdicts),
            "return": sum(self.rewards),
            "outcomes": [v.outcome.value for v in self.verdicts],
            "points": self.points,
            "rewards": self.rewards,
            "turns": [[text_only(m) for m in t] for t in transcripts],
        }
