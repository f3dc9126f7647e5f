"""V-IRL navigation as a framework-free, multi-turn episode (the same contract as GeneralPoints).

:class:`VIRL` holds the settings (world, split, language or vision, prompt style, attempts per point);
:meth:`VIRL.episode` draws the route of a seed and returns a :class:`VIRLEpisode`. At each rail point the
model gets one user turn (directions, history, current observation); a correct answer moves the agent to
the next point and starts a fresh turn whose history records it; a wrong one is not executed, and the
feedback is appended so the model can revise, up to ``verify_iter`` attempts per point.

A set of episodes (:meth:`VIRL.episodes`, expert data) never plays a route twice: on a drawn world it walks the
seeds and skips repeats; on a reference-format folder it replays the folder's routes in record order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gengap.core.episode import Message, StepResult, episode_seed, text_only
from gengap.core.game import GameBase
from gengap.core.lenient_json import clip_answer
from gengap.virl.answer import claims_intersection
from gengap.virl.prompts import STYLES, action_list, feedback_prompt, format_answer, observation_text, user_prompt
from gengap.virl.routes import RailPoint, Route, RouteConfig, max_rail_points, route_for
from gengap.virl.splits import DISTRICTS, SPLITS, VIRLSplit, get_split
from gengap.virl.verifier import REWARDS, Outcome, Verdict, VIRLRewards, verify
from gengap.virl.world import World
from gengap.virl.worlds import get_world


@dataclass(frozen=True)
class VIRLShowOptions:
    """What ``gengap show --game virl`` renders."""

    point: int = field(
        default=-1,
        metadata={
            "help": "the route point whose street views to render (-1: the first intersection)",
            "bounds": "[-1, inf)",
        },
    )


@dataclass(frozen=True)
class VIRL(GameBase):
    """Settings of a V-IRL task; cheap to create and immutable."""

    title: ClassVar[str] = "V-IRL"
    EVAL_EPISODES: ClassVar[dict[str, int]] = {"id": 48, "ood-rule": 48, "ood-place": 48, "ood-visual": 18}
    """The paper evaluates 48 routes for ID and rule OOD, 18 for visual OOD (a replayed folder: all its routes)."""
    DATA_KINDS: ClassVar[tuple[str, ...]] = ("routes", "optimal", "suboptimal")
    METRICS: ClassVar[str] = "gengap.virl.metrics"
    POLICIES: ClassVar[str] = "gengap.virl.policies:POLICIES"
    ShowOptions: ClassVar[type] = VIRLShowOptions

    world: str = field(
        default="helsinki",
        metadata={
            "help": "helsinki, karhula, grid, an .osm.pbf extract, a world .json, or a reference-format folder "
            "(whose routes are replayed in order)"
        },
    )
    """A world name or path (see :func:`gengap.virl.worlds.get_world`)."""
    split: VIRLSplit = field(default_factory=lambda: get_split("id"))
    vision: bool = False
    style: str = "paper"
    verify_iter: int = 2
    """Attempts per rail point (the paper uses 2)."""
    district: str | None = field(
        default=None,
        metadata={"help": "where routes are drawn instead of the split's district: train, test or all"},
    )
    """Override the split's district (``train``, ``test`` or ``all``); replayed routes have none."""
    rewards: VIRLRewards = REWARDS
    routes: RouteConfig = field(default_factory=RouteConfig)
    image_size: int = 512
    view_style: str | None = field(
        default=None, metadata={"help": "street-view look instead of the split's: day or dusk (vision only)"}
    )
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
        if self.view_style is not None:
            from gengap.virl.render import STYLES as VIEW_STYLES

            if self.view_style not in VIEW_STYLES:
                raise ValueError(f"view_style must be one of {sorted(VIEW_STYLES)}, got {self.view_style!r}")

    @property
    def the_world(self) -> World:
        return get_world(self.world)

    @property
    def the_district(self) -> str:
        """Where routes are drawn: the ``district`` setting, else the split's."""
        return self.district or self.split.district

    @property
    def replays(self) -> bool:
        """Is the world a reference-format folder, whose listed routes are played (rather than drawn)?"""
        from gengap.virl.replay import is_reference_folder

        return is_reference_folder(self.world)

    def _replayed(self) -> tuple[Route, ...]:
        from gengap.virl.replay import replay_routes

        return replay_routes(self.world, self.routes)

    def route(self, seed: int) -> Route:
        """The route of ``seed``: drawn from the world, or on a reference folder record ``seed`` modulo the number
        of records (so record ``k`` is replayed by seed ``k``)."""
        if self.replays:
            routes = self._replayed()
            return routes[seed % len(routes)]
        return route_for(self.the_world, seed, district=self.the_district, config=self.routes)

    def episode(self, seed: int, verify_iter: int | None = None) -> VIRLEpisode:
        if verify_iter is not None and verify_iter < 1:
            raise ValueError(f"verify_iter must be at least 1, got {verify_iter}")
        return VIRLEpisode(self, self.route(seed), seed, verify_iter or self.verify_iter)

    def route_set(self, seed: int, n: int) -> list[tuple[int, Route]]:
        """The ``n`` routes of the set ``(split, seed)``, each with the seed that replays it (``episode(seed)``).

        On a drawn world, route ``k`` is the ``k``-th *distinct* route (by id) met along ``route(episode_seed(seed,
        j))`` for ``j = 0, 1, 2, …``: a draw that repeats a route already in the set is skipped, so a set never
        plays a route twice and the first ``m`` routes of a set of ``n`` are the set of ``m``. When the district
        cannot give ``n`` distinct routes this stops early with a one-line :class:`ValueError` saying about how
        many it holds (estimated from how often draws repeat, see :func:`_exhausted`).

        On a reference-format folder the seed is ignored: route ``k`` is record ``k`` (its seed is ``k``), and
        asking for more routes than the folder lists is an error.
        """
        if n < 0:
            raise ValueError(f"the number of routes must not be negative, got {n}")
        if self.replays:
            routes = self._replayed()
            if n > len(routes):
                raise ValueError(
                    f"the reference folder {self.world} lists {len(routes)} routes, fewer than the {n} asked for; "
                    f"ask for at most {len(routes)}"
                )
            return [(k, routes[k]) for k in range(n)]
        return _distinct_routes(self, seed, n)

    def episodes(self, seed: int, n: int) -> list[VIRLEpisode]:
        """The evaluation set of ``(split, seed)``: ``n`` distinct routes (see :meth:`route_set`); each episode's
        ``seed`` replays it. On a reference folder: its first ``n`` routes in record order, whatever ``seed``."""
        return [VIRLEpisode(self, route, s, self.verify_iter) for s, route in self.route_set(seed, n)]

    # ------------------------------------------------------------------ the game contract

    @classmethod
    def split_names(cls) -> dict[str, str]:
        return {name: s.description for name, s in SPLITS.items()}

    def eval_splits(self) -> list[str]:
        """The paper's: ID and rule OOD, and visual OOD for the vision form."""
        return ["id", "ood-rule", *(["ood-visual"] if self.vision else [])]

    def eval_episodes(self) -> int:
        """The paper's count for the split (48, or 18 for visual OOD); on a reference folder, all its routes."""
        if self.replays:
            return len(self._replayed())
        return super().eval_episodes()

    def max_turns(self) -> int:
        """An upper bound on the answers of one episode: rail points × attempts per point (the bound on rail
        points follows from the route settings; on a reference folder, the longest listed route)."""
        points = max(len(r.rail) for r in self._replayed()) if self.replays else max_rail_points(self.routes)
        return points * self.verify_iter

    @classmethod
    def headline(cls) -> str:
        """Per-step accuracy: the paper's V-IRL metric."""
        return "step_accuracy"

    def write_dataset(self, out: str | Path, *, n: int, seed: int, kind: str, progress: bool, **options: Any) -> Path:
        from gengap.virl.expert import write_dataset

        if options:
            raise ValueError(f"V-IRL data has no option {sorted(options)[0]!r}")
        return write_dataset(self, out, n=n, seed=seed, kind=kind, progress=progress)

    def show(self, seed: int, out: str | Path, point: int = -1) -> str:
        """Render the street views at ``point`` (default: the first intersection) and the route map under ``out``
        (``views.png``, ``map.png``); print the route's instruction and return a line saying what was written."""
        from gengap.virl.render import render_map, render_views, save_png

        route = self.route(seed)
        world = self.the_world
        index = point if point >= 0 else next((i for i, p in enumerate(route.rail) if p.intersection), 0)
        if not 0 <= index < len(route.rail):
            raise ValueError(f"--point must be below {len(route.rail)}, the number of points on this route")
        out = Path(out)
        style = self.view_style or self.split.style
        views = save_png(render_views(world, route, index, style=style, size=self.image_size), out / "views.png")
        route_map = save_png(render_map(world, route), out / "map.png")
        print(route.instruction_text())
        return (
            f"route {route.id}: {len(route.rail)} points, {route.length:.0f} m; views at point {index} -> {views}; "
            f"map -> {route_map}"
        )

    def play_in_terminal(self, seed: int) -> bool:
        from gengap.virl.play import play

        return play(self, seed)


STREAK_MIN = 200
"""Draws in a row without a new route after which a set gives up (at least; see :func:`_exhausted`)."""
MARGIN_SE = 4.0
"""How many standard errors above the estimated number of routes ``n`` must lie before a set gives up early."""


def _distinct_routes(game: VIRL, seed: int, n: int) -> list[tuple[int, Route]]:
    world, district = game.the_world, game.the_district
    found: list[tuple[int, Route]] = []
    taken: set[str] = set()
    draws = streak = 0
    while len(found) < n:
        s = episode_seed(seed, draws)
        draws += 1
        route = route_for(world, s, district=district, config=game.routes)
        if route.id not in taken:
            taken.add(route.id)
            found.append((s, route))
            streak = 0
            continue
        streak += 1
        if _exhausted(n, draws, len(found), streak):
            total, _ = estimate_routes(draws, len(found))
            raise ValueError(
                f"world {world.name!r} (district {district!r}) holds about {max(len(found), round(total))} "
                f"distinct routes ({len(found)} found in {draws} draws), fewer than the {n} asked for; ask for "
                "fewer, or use a larger district (--district all), another city or an "
                ".osm.pbf extract"
            )
    return found


def _exhausted(n: int, draws: int, found: int, streak: int) -> bool:
    """Can the district not give ``n`` distinct routes? Each draw is a uniform pick among the district's routes
    (a uniform pair of places, then one of four initial facings), so the number of distinct routes after
    ``draws`` draws estimates how many there are (:func:`estimate_routes`). Give up when ``n`` lies more than
    :data:`MARGIN_SE` standard errors above that estimate, or after ``max(STREAK_MIN, 3 · found)`` draws in a
    row that found nothing new (the district is all but exhausted)."""
    if streak >= max(STREAK_MIN, 3 * found):
        return True
    if draws - found < 10:
        return False
    total, se = estimate_routes(draws, found)
    return n > total + MARGIN_SE * se


def estimate_routes(draws: int, found: int) -> tuple[float, float]:
    """How many routes a district holds, from ``found`` distinct ones in ``draws`` uniform draws: the ``N`` for
    which the expected number of distinct routes ``N (1 - (1 - 1/N)^draws)`` equals ``found``, and its standard
    error (delta method). ``(inf, inf)`` while no draw has repeated."""
    if found >= draws:
        return math.inf, math.inf
    if found <= 1:
        return float(found), 0.0

    def expected(total: float) -> float:
        return total * -math.expm1(draws * math.log1p(-1.0 / total))

    lo, hi = float(found), 2.0 * found
    while expected(hi) < found:
        lo, hi = hi, 2.0 * hi
    for _ in range(100):
        mid = (lo + hi) / 2
        if expected(mid) < found:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-3:
            break
    total = (lo + hi) / 2
    q1 = math.exp(draws * math.log1p(-1.0 / total))
    q2 = math.exp(draws * math.log1p(-2.0 / total)) if total > 2 else 0.0
    variance = total * (total - 1) * q2 + total * q1 - total * total * q1 * q1
    slope = 1.0 - q1 - (draws / total) * q1 / (1.0 - 1.0 / total) if total > 1 else 1.0
    se = math.sqrt(max(variance, 0.0)) / slope if slope > 0 else math.inf
    return total, se


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
        self.action_correct: list[bool] = []
        """Per answer: is its action the expert action (whatever its observation)?"""
        self.observation_correct: list[bool] = []
        """Per answer: does its observation tell rightly whether the agent stands at an intersection?"""
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
        self.action_correct.append(verdict.answer.action == self.expert_action)
        observed = verdict.answer.observation
        self.observation_correct.append(
            bool(observed and observed.strip()) and claims_intersection(observed) == point.intersection
        )
        self.messages.append({"role": "assistant", "content": clip_answer(answer)})
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
        if not self.action_correct:
            return 0.0
        return sum(self.action_correct) / len(self.action_correct)

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
            "points_done": self.index + int(self.success),
            "success": self.success,
            "step_accuracy": self.step_accuracy,
            "answers": len(self.verdicts),
            "return": sum(self.rewards),
            "outcomes": [v.outcome.value for v in self.verdicts],
            "action_correct": list(self.action_correct),
            "observation_correct": list(self.observation_correct),
            "parsed": [v.answer.action is not None for v in self.verdicts],
            "points": self.points,
            "rewards": self.rewards,
            "turns": [[text_only(m) for m in t] for t in transcripts],
        }
