"""Replay the routes listed in a reference-format folder, record by record.

The paper evaluates V-IRL on the routes its data lists (48 ID and rule-OOD routes, 18 visual-OOD ones, in index
order), not on new routes drawn between its places. A game whose world is a reference folder (see
:mod:`gengap.virl.sources.reference`) therefore plays the records themselves: episode ``k`` is record ``k``.

Each :class:`~gengap.virl.routes.Route` is built from its record's own walk, so the expert actions follow it:

* **the walk**: the start place (its ``relocated_geocode`` on the street when given, else its ``geocode``), the
  milestones of ``geocode_list`` in order, then the destination's ``relocated_geocode`` when given; without one,
  its ``geocode`` only when it lies farther than ``visible_radius`` from the last milestone (otherwise the walk
  ends at the last milestone, the destination in sight). Points less than half a metre apart are merged.
* **turn points**: the milestones where the walk's direction changes by at least ``turn_deg``. The new heading is
  the compass sector of the next leg; a turn that stays inside the agent's sector names the neighbouring sector
  (as for drawn routes), and a reversal, which the relative action space cannot name, is named a full turn
  (135°) toward the side it bends.
* **the landmark** at a turn: the record's ``landmark_list`` entry for that milestone when present, else the
  nearest named place of the folder (other than the start and the destination when possible). The instruction
  says where it stands as the views show it (``on your left``, ``in front of you``…).
* observations, street views and the rail (forward points between turns) as for drawn routes.

None of the validity checks of drawn routes (length, number of turns, legs, landmark angles) applies: every
listed route is playable. Districts do not apply either.
"""

from __future__ import annotations

import random
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from gengap.virl.geometry import (
    COMPASS,
    Point,
    Projection,
    angle_diff,
    bearing,
    compass_index,
    distance,
    end_bearing,
    relative_turn,
    side,
    start_bearing,
)
from gengap.virl.prompts import _WHERE
from gengap.virl.routes import Route, RouteConfig, Turn, _rail
from gengap.virl.sources.reference import _geocode, read_records
from gengap.virl.world import Place, World

MERGE_M = 0.5
"""Walk points closer than this are one point."""


def is_reference_folder(world: str) -> bool:
    """Does the world name a reference-format folder (whose routes are replayed)? As :func:`get_world` reads it:
    the built-in names come first."""
    from gengap.virl.worlds import BUILTIN_WORLDS

    return world not in BUILTIN_WORLDS and Path(world).is_dir()


@lru_cache(maxsize=16)
def replay_routes(world: str, config: RouteConfig) -> tuple[Route, ...]:
    """The routes of the reference folder ``world``, in record order (route ``k`` is record ``k``)."""
    from gengap.virl.worlds import get_world

    folder = Path(world)
    records = read_records(folder)
    if not records:
        raise ValueError(f"{folder / 'route_infos.json'} lists no routes")
    the_world = get_world(world)
    if the_world.origin is None:
        raise ValueError(f"world {world!r} has no geographic origin; is it a reference-format folder?")
    proj = Projection(*the_world.origin)

    def xy(g: Any) -> Point:
        x, y = proj.to_xy(float(g[0]), float(g[1]))
        return (round(x, 2), round(y, 2))

    return tuple(_replay(the_world, record, k, xy, config) for k, record in enumerate(records))


def _place(p: dict[str, Any], xy: Any) -> Place:
    types = p.get("place_types") or ["place"]
    return Place(str(p.get("name") or ""), str(types[0]), xy(p["geocode"]))


def _replay(world: World, record: dict[str, Any], k: int, xy: Any, cfg: RouteConfig) -> Route:
    where = f"route record {k} in {world.source or world.name}"
    try:
        start, dest = _place(record["start_place"], xy), _place(record["dest_place"], xy)
        results = record["route_results"]
        milestones = [xy(g) for g in results.get("geocode_list") or []]
        marks = list(results.get("landmark_list") or [])
        walk: list[Point] = [xy(_geocode(record["start_place"]))]
        named: list[dict[str, Any] | None] = [None]
        for i, m in enumerate(milestones):
            walk.append(m)
            named.append(marks[i] if i < len(marks) and isinstance(marks[i], dict) and marks[i].get("name") else None)
        dest_place = record["dest_place"]
        if dest_place.get("relocated_geocode"):
            walk.append(xy(dest_place["relocated_geocode"]))
            named.append(None)
        elif not milestones or distance(walk[-1], dest.xy) > cfg.visible_radius:
            walk.append(dest.xy)
            named.append(None)
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ValueError(f"{where} cannot be read: {err}") from err
    merged: list[Point] = []
    marks_at: list[dict[str, Any] | None] = []
    for p, m in zip(walk, named, strict=True):
        if merged and distance(merged[-1], p) < MERGE_M:
            marks_at[-1] = marks_at[-1] or m
            continue
        merged.append(p)
        marks_at.append(m)
    if len(merged) < 2:
        raise ValueError(f"{where} has no walk: its start, milestones and destination are one point")

    pieces = [[a, b] for a, b in pairwise(merged)]
    first = compass_index(bearing(merged[0], merged[1]))
    rng = random.Random(f"{world.name}:replay:{k}")
    init_facing = (first + rng.choice((-2, -1, 1, 2))) % 8
    facing = first
    excluded = {start.name, dest.name}
    turns: list[Turn] = []
    key_points: list[tuple[int, int, int]] = []
    leg_start = 0
    for i in range(1, len(merged) - 1):
        arrive, leave = bearing(merged[i - 1], merged[i]), bearing(merged[i], merged[i + 1])
        diff = angle_diff(arrive, leave)
        if abs(diff) < cfg.turn_deg:
            continue
        new = compass_index(leave)
        if new == facing:
            new = (facing + (1 if diff > 0 else -1)) % 8
        if relative_turn(facing, new) is None:  # a reversal: no name in the relative action space
            new = (facing + (3 if diff > 0 else -3)) % 8
        rel = relative_turn(facing, new)
        assert rel is not None
        mark = marks_at[i]
        landmark = _place(mark, xy) if mark is not None else _nearest_place(world, merged[i], excluded)
        node = world.nearest_node(merged[i], 1.0)
        # seen as the rail's turn point sees it: facing the leg's direction of arrival
        view = side(end_bearing(merged[leg_start : i + 1]), merged[i], landmark.xy)
        turns.append(Turn(node[0] if node else -1, merged[i], facing, new, rel, landmark, view))
        key_points.append((i, facing, new))
        facing, leg_start = new, i

    final = end_bearing(merged[leg_start:])
    sentences = [f"First, turn {relative_turn(init_facing, first)} to face {COMPASS[first]}."]
    for t in turns:
        sentences.append(
            f"Move forward until you reach the next intersection where {t.landmark.name} is {_WHERE[t.landmark_side]}."
        )
        sentences.append(f"Turn {t.relative} to face {COMPASS[t.to_heading]}.")
    dest_view = side(final, merged[-1], dest.xy)
    sentences.append(f"Move forward until you reach the destination where {dest.name} is {_WHERE[dest_view]}.")

    def openings(turn: Turn) -> tuple[float, ...]:
        if turn.node >= 0 and world.adjacency.get(turn.node):
            streets = world.adjacency[turn.node]
            return tuple(sorted(start_bearing(world.street_points(turn.node, nb, s)) for nb, s in streets))
        i = next(i for i, _, _ in key_points if merged[i] == turn.xy)
        return tuple(sorted((bearing(merged[i], merged[i - 1]), bearing(merged[i], merged[i + 1]))))

    rail = _rail(world, merged, pieces, turns, key_points, init_facing, first, dest, _no_min_leg(cfg), openings)
    assert rail is not None, "replayed routes keep every leg"
    nodes = tuple(n[0] if (n := world.nearest_node(p, 1.0)) else -1 for p in merged)
    return Route(
        id=f"{world.name}-r{k:03d}",
        world=world.name,
        start=start,
        destination=dest,
        nodes=nodes,
        polyline=tuple(merged),
        init_facing=init_facing,
        turns=tuple(turns),
        instruction=tuple(sentences),
        rail=tuple(rail),
        meta={"district": "all", "record": k, "replayed": True},
    )


def _no_min_leg(cfg: RouteConfig) -> RouteConfig:
    from dataclasses import replace

    return replace(cfg, min_leg=0.0)


def _nearest_place(world: World, xy: Point, excluded: set[str]) -> Place:
    """The nearest named place, preferring one that is not the route's start or destination."""
    others = [p for p in world.places if p.name not in excluded] or list(world.places)
    if not others:
        raise ValueError(f"world {world.name!r} has no named places to serve as landmarks")
    return min(others, key=lambda p: (distance(xy, p.xy), p.name))
