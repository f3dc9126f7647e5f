"""V-IRL: geometry, routes and instructions, verifier, episodes and the Gymnasium environments."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import gengap  # noqa: F401  (registers the environments)
from gengap.virl.answer import claims_intersection, normalise_action, parse_answer
from gengap.virl.game import VIRL
from gengap.virl.geometry import (
    COMPASS,
    angle_diff,
    bearing,
    compass_index,
    end_bearing,
    relative_turn,
    start_bearing,
)
from gengap.virl.prompts import format_answer
from gengap.virl.routes import RouteConfig, route_for
from gengap.virl.sources.grid import grid_world
from gengap.virl.splits import SPLITS
from gengap.virl.world import World

STEPS = {"slightly right": {1}, "right": {2, 3}, "left": {5, 6}, "slightly left": {7}}


def _cross_side(heading: float, origin: tuple[float, float], target: tuple[float, float]) -> str:
    """Left or right by the sign of a 2-D cross product (independent of the bearing arithmetic)."""
    hx, hy = math.sin(math.radians(heading)), math.cos(math.radians(heading))
    dx, dy = target[0] - origin[0], target[1] - origin[1]
    return "right" if hx * dy - hy * dx < 0 else "left"


def test_bearings_wrap_around_north() -> None:
    assert bearing((0, 0), (0, 1)) == pytest.approx(0.0)
    assert bearing((0, 0), (1, 0)) == pytest.approx(90.0)
    assert bearing((0, 0), (-1, 1)) == pytest.approx(315.0)
    assert angle_diff(350.0, 10.0) == pytest.approx(20.0)
    assert angle_diff(10.0, 350.0) == pytest.approx(-20.0)
    assert compass_index(359.0) == 0 and compass_index(337.6) == 0 and compass_index(337.4) == 7
    assert relative_turn(0, 7) == "slightly left" and relative_turn(7, 0) == "slightly right"
    assert relative_turn(6, 0) == "right" and relative_turn(0, 6) == "left" and relative_turn(0, 4) is None


@pytest.mark.parametrize("rotation", [0.0, 8.0, -8.0, 30.0])
def test_grid_instructions_agree_with_geometry(rotation: float) -> None:
    world = grid_world(rotation_deg=rotation)
    checked = 0
    for seed in range(40):
        route = route_for(world, seed, config=RouteConfig(min_turns=1))
        turn_points = [p for p in route.rail if p.kind == "turn"]
        assert len(turn_points) == len(route.turns)
        for t, p in zip(route.turns, turn_points, strict=True):
            i = route.nodes.index(t.node)
            before = world.street_points(
                route.nodes[i - 1], t.node, world.graph.edges[route.nodes[i - 1], t.node]["street"]
            )
            after = world.street_points(
                t.node, route.nodes[i + 1], world.graph.edges[t.node, route.nodes[i + 1]]["street"]
            )
            arrive, leave = end_bearing(before), start_bearing(after)
            # the new heading is the street's compass direction, and the turn goes the way the street does
            assert t.to_heading == compass_index(leave)
            assert ("right" in t.relative) == (angle_diff(arrive, leave) > 0)
            assert t.relative == relative_turn(t.from_heading, t.to_heading)
            assert t.landmark_side == _cross_side(arrive, t.xy, t.landmark.xy)
            assert f"{t.landmark.name} is on your {t.landmark_side}" in route.instruction_text()
            assert f"Turn {t.relative} to face {COMPASS[t.to_heading]}." in route.instruction
            assert (t.landmark.name, t.landmark_side) in p.landmarks  # what the instruction names is observed there
            checked += 1
    assert checked >= 40


def test_relative_and_absolute_actions_agree() -> None:
    # The facing is rebuilt from the absolute actions alone (as an agent would track it), never from the rail.
    world = grid_world(rotation_deg=-10.0)
    for seed in range(30):
        route = route_for(world, seed, config=RouteConfig(min_turns=1))
        facing = route.init_facing
        for p in route.rail:
            absolute, relative = p.action("absolute"), p.action("relative")
            if p.kind in ("forward", "stop"):
                assert absolute == relative
                continue
            new = COMPASS.index(absolute.removeprefix("turn_direction(").removesuffix(")"))
            name = relative.removeprefix("turn_direction(").removesuffix(")")
            assert (new - facing) % 8 in STEPS[name]
            facing = new


def _expert_answer(env_info: dict, style: str, intersection: bool) -> str:
    obs = "You observe an intersection." if intersection else "You see the street."
    if style == "compact":
        obs = "intersection" if intersection else "nothing"
    return format_answer(obs, 1, "", env_info["expert_action"], style=style)


@pytest.mark.parametrize("split", sorted(SPLITS))
@pytest.mark.parametrize("env_id", ["gengap/VIRL-L-v0", "gengap/VIRL-VL-v0"])
def test_perfect_policy_reaches_every_destination(split: str, env_id: str) -> None:
    style = "compact" if split == "ood-rule" else "paper"
    env = gym.make(env_id, world="grid", style=style, image_size=128)
    successes, answers = 0, 0
    for seed in range(8 if "VL" in env_id else 25):
        _, info = env.reset(seed=seed, options={"split": split})
        done = False
        while not done:
            ep = env.unwrapped.episode
            _, reward, terminated, truncated, info = env.step(_expert_answer(info, style, ep.point.intersection))
            assert reward == 1.0 and info["outcome"] == "correct"
            answers += 1
            done = terminated or truncated
        successes += terminated
        assert env.unwrapped.episode.step_accuracy == 1.0
    assert successes == (8 if "VL" in env_id else 25) and answers > 0


@pytest.mark.parametrize("env_id", ["gengap/VIRL-L-v0", "gengap/VIRL-VL-v0"])
def test_envs_pass_check_env(env_id: str) -> None:
    env = gym.make(env_id, world="grid", image_size=64)
    check_env(env.unwrapped, skip_render_check=True)


def test_wrong_answers_are_not_executed_and_exhaust_the_budget() -> None:
    game = VIRL(world="grid", split="id", style="compact", verify_iter=2)
    ep = game.episode(4)
    start = ep.index
    wrong = next(a for a in ep.allowed if a != ep.expert_action)
    r = ep.step(format_answer(ep.observation(), 1, "", wrong, style="compact"))
    assert (r.outcome, r.reward, ep.index, r.done) == ("wrong_action", -1.0, start, False)
    assert ep.messages[-1]["role"] == "user" and ep.messages[-1]["content"].startswith("fail:")
    claim = "nothing" if ep.point.intersection else "intersection"
    r = ep.step(format_answer(claim, 1, "", ep.expert_action, style="compact"))
    assert r.outcome == "wrong_observation" and r.truncated and r.info["budget_exhausted"]
    assert r.reward == -1.5 - 1.0 and not ep.success and ep.done
    assert ep.step_accuracy == 0.5  # the metric reads the action alone: the second answer's action was right


def test_rule_ood_lists_only_relative_actions() -> None:
    ep = VIRL(world="grid", split="ood-rule", style="compact").episode(1)
    absolute = f"turn_direction({COMPASS[ep.point.heading_after]})"
    r = ep.step(format_answer(ep.observation(), 1, "", absolute, style="compact"))
    assert r.outcome == "wrong_action" and "not one of the available actions" in r.feedback
    assert "left|right|slightly left|slightly right" in ep.prompt


def test_actions_and_observations_are_read_leniently() -> None:
    assert normalise_action(" Forward ") == "forward()"
    assert normalise_action("stop()") == "stop()"
    assert normalise_action("turn_direction('North East')") == "turn_direction(northeast)"
    assert normalise_action('turn_direction("slightly_left")') == "turn_direction(slightly left)"
    assert normalise_action("fly()") is None
    assert claims_intersection("You observe an intersection.")
    assert not claims_intersection("There is no intersection here.")
    assert not claims_intersection("You see Café X on your left.")
    a = parse_answer('Sure! ```json\n{"current observation": "intersection", "action": "turn_direction(east)"}\n```')
    assert a.action == "turn_direction(east)" and a.observation == "intersection"
    b = parse_answer("observation: nothing\ninstruction: 2\naction: forward()")
    assert (b.action, b.instruction) == ("forward()", "2")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300) | st.sampled_from(["", "{", "}", '{"action": 5}', '{"action": null}', "action:"]))
def test_bad_answers_never_raise(text: str) -> None:
    ep = VIRL(world="grid", style="paper").episode(0)
    r = ep.step(text)
    assert r.outcome in ("correct", "wrong_action", "wrong_observation", "illegal")
    assert r.outcome != "correct" or text.strip()


@pytest.mark.parametrize("rotation", [0.0, 7.0])
def test_same_seed_same_route_and_world_round_trip(tmp_path, rotation: float) -> None:
    world = grid_world(seed=3, rotation_deg=rotation)
    a = [route_for(world, s).to_dict() for s in range(5)]
    world.save(tmp_path / "w.json")
    again = World.load(tmp_path / "w.json")
    assert [route_for(again, s).to_dict() for s in range(5)] == a
    assert [route_for(grid_world(seed=3, rotation_deg=rotation), s).to_dict() for s in range(5)] == a
    assert len({r["id"] for r in a}) > 1


def test_street_view_signs_stand_in_the_view_of_their_landmark() -> None:
    from gengap.virl.render import STYLES, render_views

    world = grid_world()
    board = STYLES["day"].sign_board
    seen = 0
    for seed in range(10):
        route = route_for(world, seed, config=RouteConfig(min_turns=1))
        for i, p in enumerate(route.rail[:12]):
            img = render_views(world, route, i, size=256)
            for k, view in enumerate(("front", "right", "back", "left")):
                tile = img.crop(((k % 2) * 128, (k // 2) * 128, (k % 2) * 128 + 128, (k // 2) * 128 + 128))
                has_sign = bool((np.asarray(tile) == board).all(axis=-1).any())
                assert has_sign == any(v == view for _, v in p.landmarks)
                seen += has_sign
    assert seen > 5
    route = route_for(world, 0)
    dusk, day = (np.asarray(render_views(world, route, 0, style=s, size=64)) for s in ("dusk", "day"))
    assert (dusk != day).any()


def test_virl_core_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, gengap.virl, gengap.virl.env, gengap.virl.expert, gengap.virl.render;"
        "from gengap.virl.game import VIRL;"
        "ep = VIRL(world='grid', vision=True, image_size=64).episode(0); ep.images(); ep.step(ep.expert_answer());"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_episodes_follow_the_shared_contract_and_play_in_batches() -> None:
    from gengap.core.episode import Episode, play

    game = VIRL(world="grid", split="ood-rule", style="compact")
    episodes = game.episodes(seed=0, n=12)
    assert all(isinstance(ep, Episode) for ep in episodes)
    finished = play(lambda batch: [ep.expert_answer() for ep in batch], episodes, batch_size=5)
    assert len(finished) == 12 and all(ep.success for ep in finished)
    rec = finished[0].record()
    assert rec["success"] and rec["step_accuracy"] == 1.0 and len(rec["turns"]) == rec["n_points"]
    again = [ep.route.id for ep in game.episodes(seed=0, n=12)]
    assert again == [ep.route.id for ep in episodes]
