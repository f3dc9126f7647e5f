"""Routes between named places: turn points, landmarks with their side, the instruction, and the rail.

A route is the shortest walk between the streets nearest to two named places. Its **turn points** are the
intersections where the direction of travel changes by at least ``turn_deg``; each gets the nearest named
place within ``landmark_radius`` that stands clearly to the left or right (computed from geometry). The
**instruction** names, for each turn, the relative turn and the absolute heading. The **rail** is the list of
points the agent visits: the start (turn to the first heading), points every ``spacing`` metres along each leg
(``forward()``), each turn point (``turn_direction(x)``), and the destination (``stop()``).

Headings are the eight compass sectors; the agent's facing changes only when it turns, and a relative turn
is always computed from its facing and the new heading with wrap-around, so the relative and absolute action
spaces describe the same moves. Everything is deterministic in (world, district, seed).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from gengap.virl.geometry import (
    COMPASS,
    Point,
    angle_diff,
    bearing,
    compass_index,
    distance,
    end_bearing,
    left_or_right,
    point_along,
    polyline_length,
    relative_turn,
    side,
    start_bearing,
)
from gengap.virl.world import Place, World


@dataclass(frozen=True)
class RouteConfig:
    """How routes are drawn. Defaults suit central Helsinki and the grid city."""

    min_turns: int = 2
    max_turns: int = 5
    min_length: float = 150.0
    max_length: float = 900.0
    spacing: float = 25.0
    """Metres between rail points along a leg (the reference uses ~5 m; longer keeps CPU episodes short)."""
    turn_deg: float = 30.0
    landmark_radius: float = 35.0
    visible_radius: float = 35.0
    max_visible: int = 3
    min_leg: float = 20.0
    """Shortest walk between two key points (start, turns, destination)."""
    max_drift: float = 40.0
    """Largest angle between the agent's declared compass heading and the street it walks."""
    snap_radius: float = 40.0
    """A place can start or end a route only if a street node lies this close."""
    max_tries: int = 1000


@dataclass(frozen=True)
class Turn:
    node: int
    xy: Point
    from_heading: int
    to_heading: int
    relative: str
    landmark: Place
    landmark_side: str


@dataclass(frozen=True)
class RailPoint:
    """One point the agent stands on, what it sees there, and the correct action."""

    xy: Point
    bearing: float
    """Direction the agent's body faces here (travel direction; at the start, its initial facing)."""
    facing: int
    """Compass heading the agent has declared (changes only when it turns)."""
    kind: str
    """``start``, ``forward``, ``turn`` or ``stop``."""
    instruction: int
    """1-based number of the instruction sentence being carried out."""
    heading_after: int
    """Compass heading after the action (differs from ``facing`` only at ``start`` and ``turn``)."""
    landmarks: tuple[tuple[str, str], ...] = ()
    """Visible places as (name, view), nearest first."""
    openings: tuple[float, ...] = ()
    """Bearings of the streets leaving an intersection (turn points only), for street views."""

    @property
    def intersection(self) -> bool:
        return self.kind == "turn"

    def action(self, space: str) -> str:
        """The expert action in the ``absolute`` or ``relative`` action space."""
        if self.kind == "forward":
            return "forward()"
        if self.kind == "stop":
            return "stop()"
        if space == "absolute":
            return f"turn_direction({COMPASS[self.heading_after]})"
        rel = relative_turn(self.facing, self.heading_after)
        assert rel is not None, "routes never ask for a U-turn"
        return f"turn_direction({rel})"


@dataclass(frozen=True)
class Route:
    id: str
    world: str
    start: Place
    destination: Place
    nodes: tuple[int, ...]
    polyline: tuple[Point, ...]
    init_facing: int
    turns: tuple[Turn, ...]
    instruction: tuple[str, ...]
    rail: tuple[RailPoint, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> float:
        return polyline_length(self.polyline)

    def instruction_text(self) -> str:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(self.instruction, 1))

    def to_dict(self, space: str = "absolute") -> dict[str, Any]:
        """The route record that ``gengap virl data`` writes (one per line)."""
        return {
            "id": self.id,
            "world": self.world,
            "start": {"name": self.start.name, "category": self.start.category, "xy": _r(self.start.xy)},
            "destination": {
                "name": self.destination.name,
                "category": self.destination.category,
                "xy": _r(self.destination.xy),
            },
            "length_m": round(self.length, 1),
            "instruction": self.instruction_text(),
            "turns": [
                {
                    "xy": _r(t.xy),
                    "from": COMPASS[t.from_heading],
                    "to": COMPASS[t.to_heading],
                    "relative": t.relative,
                    "landmark": t.landmark.name,
                    "side": t.landmark_side,
                }
                for t in self.turns
            ],
            "rail": [
                {
                    "xy": _r(p.xy),
                    "facing": COMPASS[p.facing],
                    "intersection": p.intersection,
                    "instruction": p.instruction,
                    "landmarks": [list(lv) for lv in p.landmarks],
                    "expert_action": p.action(space),
                    "expert_action_absolute": p.action("absolute"),
                    "expert_action_relative": p.action("relative"),
                }
                for p in self.rail
            ],
        }


def max_rail_points(config: RouteConfig) -> int:
    """An upper bound on the rail points of any route drawn under ``config``.

    A route has at most ``max_turns + 1`` legs; each leg adds its end (a turn or the destination) and
    ``max(1, ⌊(length - spacing/2) / spacing⌋) ≤ max(1, length / spacing)`` forward points, and the legs add up to
    at most ``max_length``: ``1 + 2 (max_turns + 1) + ⌊max_length / spacing⌋``.
    """
    return 1 + 2 * (config.max_turns + 1) + math.floor(config.max_length / config.spacing)


def _r(xy: Point) -> list[float]:
    return [round(xy[0], 1), round(xy[1], 1)]


def district_of(world: World, xy: Point) -> str:
    """``train`` (west of the places' median easting) or ``test`` (east of it): place OOD inside one map."""
    return "train" if xy[0] < _median_x(world) else "test"


def _median_x(world: World) -> float:
    cached = world.memo.get("median_x")
    if cached is None:
        xs = sorted(p.xy[0] for p in world.places) or [0.0]
        cached = world.memo["median_x"] = xs[len(xs) // 2]
    return cached


def route_for(world: World, seed: int, *, district: str = "all", config: RouteConfig | None = None) -> Route:
    """The route of ``seed`` in ``world`` (restricted to a district: ``train``, ``test`` or ``all``)."""
    cfg = config or RouteConfig()
    rng = random.Random(f"{world.name}:{district}:{seed}")
    candidates = _eligible_places(world, district, cfg)
    if len(candidates) < 2:
        raise ValueError(f"world {world.name!r} has fewer than two named places near streets in district {district!r}")
    for _ in range(cfg.max_tries):
        a, b = rng.sample(candidates, 2)
        route = _try_route(world, a, b, rng, district, cfg)
        if route is not None:
            return route
    raise ValueError(
        f"no valid route found in world {world.name!r} (district {district!r}) after {cfg.max_tries} tries; "
        "relax the route settings (fewer turns, longer routes) or use a larger world"
    )


def _eligible_places(world: World, district: str, cfg: RouteConfig) -> list[tuple[Place, int]]:
    key = f"eligible:{district}:{cfg.snap_radius}"
    cached = world.memo.get(key)
    if cached is None:
        cached = []
        for p in world.places:
            snap = world.nearest_node(p.xy, cfg.snap_radius)
            if snap is None:
                continue
            if district != "all" and district_of(world, world.nodes[snap[0]]) != district:
                continue
            cached.append((p, snap[0]))
        world.memo[key] = cached
    return cached


def _try_route(
    world: World,
    a: tuple[Place, int],
    b: tuple[Place, int],
    rng: random.Random,
    district: str,
    cfg: RouteConfig,
) -> Route | None:
    (start, n0), (dest, n1) = a, b
    if n0 == n1:
        return None
    crow = distance(world.nodes[n0], world.nodes[n1])
    if not cfg.min_length / 2 <= crow <= cfg.max_length:  # a walk is never shorter than the straight line
        return None
    path = world.shortest_path(n0, n1)
    if path is None or len(path) < 3:
        return None
    nodes = [n for n, _ in path]
    if district != "all" and any(district_of(world, world.nodes[n]) != district for n in nodes):
        return None
    pieces = [list(world.street_points(path[i - 1][0], path[i][0], path[i][1])) for i in range(1, len(path))]
    polyline = pieces[0] + [p for piece in pieces[1:] for p in piece[1:]]
    length = polyline_length(polyline)
    if not cfg.min_length <= length <= cfg.max_length:
        return None

    # Key points: where the walk turns. ``facing`` is the agent's declared compass heading.
    first = compass_index(start_bearing(pieces[0]))
    init_facing = (first + rng.choice((-2, -1, 1, 2))) % 8
    facing = first
    key_points: list[tuple[int, int, int]] = []  # (index in nodes, heading before, heading after)
    excluded = {start.name, dest.name}
    turns: list[Turn] = []
    for i in range(1, len(nodes) - 1):
        if _bends_away(pieces[i - 1], facing, cfg.max_drift):
            return None  # the street turns without an intersection: "move forward" would not follow it
        arrive = end_bearing(pieces[i - 1])
        leave = start_bearing(pieces[i])
        diff = angle_diff(arrive, leave)
        new = compass_index(leave)
        if abs(diff) < cfg.turn_deg:
            if abs(angle_diff(facing * 45.0, leave)) > cfg.max_drift:
                return None  # the street bent away from the declared heading without a turn: instructions would lie
            continue
        if abs(angle_diff(facing * 45.0, arrive)) > cfg.max_drift:
            return None  # the agent's declared heading no longer matches the street it walks: the turn would lie
        if new == facing:
            new = (facing + (1 if diff > 0 else -1)) % 8
        rel = relative_turn(facing, new)
        if rel is None or ("right" in rel) != (diff > 0) or rel.startswith("slightly") != (abs(diff) < 67.5):
            return None  # the named turn must match the real one: direction and "slight" (< 67.5°) or full
        landmark = _landmark(world, world.nodes[nodes[i]], arrive, excluded, cfg)
        if landmark is None:
            return None
        turns.append(Turn(nodes[i], world.nodes[nodes[i]], facing, new, rel, landmark[0], landmark[1]))
        key_points.append((i, facing, new))
        excluded.add(landmark[0].name)
        facing = new
    if not cfg.min_turns <= len(turns) <= cfg.max_turns or _bends_away(pieces[-1], facing, cfg.max_drift):
        return None
    final_arrival = end_bearing(pieces[-1])
    dest_side, dest_angle = left_or_right(final_arrival, world.nodes[n1], dest.xy)
    if not 50.0 <= dest_angle <= 130.0 or distance(world.nodes[n1], dest.xy) > cfg.visible_radius:
        return None  # the destination must be in plain sight on the side the instruction names

    # The instruction: first orientation, then per leg "move forward until …", with a turn between legs.
    sentences = [f"First, turn {relative_turn(init_facing, first)} to face {COMPASS[first]}."]
    for t in turns:
        sentences.append(
            f"Move forward until you reach the next intersection where {t.landmark.name} is on your {t.landmark_side}."
        )
        sentences.append(f"Turn {t.relative} to face {COMPASS[t.to_heading]}.")
    sentences.append(f"Move forward until you reach the destination where {dest.name} is on your {dest_side}.")

    def openings(turn: Turn) -> tuple[float, ...]:
        return tuple(
            sorted(start_bearing(world.street_points(turn.node, nb, s)) for nb, s in world.adjacency.get(turn.node, ()))
        )

    points = [world.nodes[n] for n in nodes]
    rail = _rail(world, points, pieces, turns, key_points, init_facing, first, dest, cfg, openings)
    if rail is None:
        return None
    digest = hashlib.blake2b(f"{world.name}|{start.name}|{dest.name}|{n0}|{n1}|{init_facing}".encode(), digest_size=6)
    return Route(
        id=f"{world.name}-{digest.hexdigest()}",
        world=world.name,
        start=start,
        destination=dest,
        nodes=tuple(nodes),
        polyline=tuple(polyline),
        init_facing=init_facing,
        turns=tuple(turns),
        instruction=tuple(sentences),
        rail=tuple(rail),
        meta={"district": district},
    )


def _landmark(world: World, xy: Point, arrive: float, excluded: set[str], cfg: RouteConfig) -> tuple[Place, str] | None:
    """The nearest named place near an intersection that is clearly on the left or the right."""
    for _, place in world.places_near(xy, cfg.landmark_radius):
        if place.name in excluded:
            continue
        where, angle = left_or_right(arrive, xy, place.xy)
        if 50.0 <= angle <= 130.0:  # clearly in the left or right street view, not ahead or behind
            return place, where
    return None


def _bends_away(points: list[Point], facing: int, limit: float, min_segment: float = 5.0) -> bool:
    """Does any stretch of ``points`` (of at least ``min_segment`` metres) head more than ``limit`` degrees away
    from the compass heading ``facing``? Shorter kinks are map noise, not a change of direction."""
    for a, b in pairwise(points):
        if distance(a, b) >= min_segment and abs(angle_diff(facing * 45.0, bearing(a, b))) > limit:
            return True
    return False


def _rail(
    world: World,
    points: list[Point],
    pieces: list[list[Point]],
    turns: list[Turn],
    key_points: list[tuple[int, int, int]],
    init_facing: int,
    first: int,
    destination: Place,
    cfg: RouteConfig,
    openings: Callable[[Turn], tuple[float, ...]],
) -> list[RailPoint] | None:
    """The rail, or ``None`` when a leg is shorter than ``min_leg`` (a forward point would sit on the turn).

    ``points[i]`` is where the walk's ``i``-th vertex stands and ``pieces[i]`` the polyline from vertex ``i`` to
    ``i + 1``; ``key_points`` name the vertices where the route turns; ``openings(turn)`` gives the bearings of
    the streets leaving a turn's intersection (for street views).
    """

    def seen(xy: Point, heading: float, must: Place | None = None) -> tuple[tuple[str, str], ...]:
        near = [p for _, p in world.places_near(xy, cfg.visible_radius)]
        if must is not None:  # the landmark the instruction names is always seen at its intersection
            near = [must] + [p for p in near if p != must]
        return tuple((p.name, side(heading, xy, p.xy)) for p in near[: cfg.max_visible])

    start_xy = points[0]
    rail = [RailPoint(start_xy, init_facing * 45.0, init_facing, "start", 1, first, seen(start_xy, init_facing * 45.0))]
    bounds = [0] + [k for k, _, _ in key_points] + [len(points) - 1]
    facing = first
    for leg, (lo, hi) in enumerate(pairwise(bounds)):
        line = pieces[lo] + [p for piece in pieces[lo + 1 : hi] for p in piece[1:]]
        length = polyline_length(line)
        if length < cfg.min_leg:
            return None
        n_forward = max(1, int((length - cfg.spacing / 2) // cfg.spacing))
        step = length / (n_forward + 1) if n_forward * cfg.spacing > length else cfg.spacing
        sentence = 2 * leg + 2
        for k in range(1, n_forward + 1):
            xy, travel = point_along(line, k * step)
            rail.append(RailPoint(xy, travel, facing, "forward", sentence, facing, seen(xy, travel)))
        arrive = end_bearing(line)
        end_xy = points[hi]
        if leg < len(turns):
            t = turns[leg]
            rail.append(
                RailPoint(
                    end_xy,
                    arrive,
                    facing,
                    "turn",
                    sentence + 1,
                    t.to_heading,
                    seen(end_xy, arrive, t.landmark),
                    openings(t),
                )
            )
            facing = t.to_heading
        else:
            rail.append(RailPoint(end_xy, arrive, facing, "stop", sentence, facing, seen(end_xy, arrive, destination)))
    return rail
