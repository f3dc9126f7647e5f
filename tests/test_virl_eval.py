"""V-IRL as a game of the registry: its contract, the scripted policies that bracket its metrics, the metrics and
their intervals, and sets of distinct routes (on the grid city, so every test here is fast)."""

from __future__ import annotations

import dataclasses
import json
import random
import time

import pytest

from gengap.core.episode import episode_seed, play
from gengap.core.game import GameBase, game_class, game_options, make_game
from gengap.core.io import read_jsonl
from gengap.virl.game import VIRL, estimate_routes
from gengap.virl.metrics import outcomes_by_attempt_at_point, summarise
from gengap.virl.policies import POLICIES, get_policy
from gengap.virl.routes import max_rail_points
from gengap.virl.splits import SPLITS, VIRLSplit

N = 24


def _records(policy: str, split: str, n: int = N, **settings) -> list[dict]:
    game = VIRL(world="grid", split=split, **settings)
    return [ep.record() for ep in play(get_policy(policy), game.episodes(0, n))]


def test_virl_follows_the_game_contract() -> None:
    assert game_class("virl") is VIRL and issubclass(VIRL, GameBase) and VIRL.name == "virl"
    assert VIRL.title == "V-IRL" and VIRL.headline() == "step_accuracy"
    assert VIRL.EVAL_EPISODES == {"id": 48, "ood-rule": 48, "ood-place": 48, "ood-visual": 18}
    assert VIRL.DATA_KINDS == ("routes", "optimal", "suboptimal")
    assert [f.name for f in game_options(VIRL)] == ["world", "district", "view_style"]
    assert all(f.metadata["help"] and "\n" not in f.metadata["help"] for f in game_options(VIRL))
    assert VIRL.__dataclass_fields__["verify_iter"].default == 2
    assert set(VIRL.split_names()) == set(SPLITS)
    point = dataclasses.fields(VIRL.ShowOptions)[0]
    assert (point.name, point.default) == ("point", -1) and point.metadata["help"]

    game = make_game("virl", world="grid", split="ood-rule", verify_iter=None)
    assert isinstance(game, VIRL) and game.split.name == "ood-rule" and game.verify_iter == 2
    assert game.with_split("ood-visual").split.name == "ood-visual"
    assert game.with_split(SPLITS["id"]).split_name == "id"
    with pytest.raises(ValueError, match="unknown V-IRL split"):
        game.with_split("nowhere")
    assert game.eval_splits() == ["id", "ood-rule"]
    assert VIRL(world="grid", vision=True).eval_splits() == ["id", "ood-rule", "ood-visual"]
    assert [game.with_split(s).eval_episodes() for s in ("id", "ood-rule", "ood-visual")] == [48, 48, 18]
    assert set(VIRL.policies()) == {"oracle", "rule-blind", "noisy", "random"}
    settings = game.to_dict()
    assert settings["split"]["name"] == "ood-rule" and settings["routes"]["spacing"] > 0
    json.dumps(settings)

    import gymnasium as gym

    env = gym.make("gengap/VIRL-L-v0", world="grid")
    assert env.unwrapped.game.verify_iter == 2 and env.unwrapped.game.style == "paper"


def test_max_turns_bounds_every_episode() -> None:
    game = VIRL(world="grid", split="ood-rule", verify_iter=3)
    assert game.max_turns() == max_rail_points(game.routes) * 3
    longest = max(len(r.rail) for _, r in game.route_set(1, 150))
    assert longest * 3 <= game.max_turns()
    # the worst case: every point needs all its attempts, the last one right
    ep = game.episode(episode_seed(1, 0))
    while not ep.done:
        wrong = next(a for a in ep.allowed if a != ep.expert_action)
        for _ in range(ep.verify_iter - 1):
            ep.step(json.dumps({"current observation": ep.observation(), "action": wrong}))
        ep.step(ep.expert_answer())
    assert ep.success and len(ep.verdicts) == len(ep.route.rail) * 3 <= game.max_turns()


def test_scripted_policies_bracket_the_metrics() -> None:
    s = {(p, split): summarise(_records(p, split)) for p in POLICIES for split in ("id", "ood-rule")}
    for split in ("id", "ood-rule"):
        oracle = s["oracle", split]
        assert oracle["episodes"] == N
        for key in ("step_accuracy", "route_success", "success", "observation_accuracy", "format_validity"):
            assert oracle[key]["rate"] == 1.0, key
        assert oracle["outcomes"]["correct"] == oracle["step_accuracy"]["n"] and oracle["mean_progress"] == 1.0
        assert len(oracle["outcomes_by_attempt"]) == 1
        assert s["random", split]["step_accuracy"]["rate"] < 0.4 and s["random", split]["route_success"]["rate"] == 0
        noisy = s["noisy", split]
        assert 0.3 < noisy["step_accuracy"]["rate"] < 0.9 and noisy["step_accuracy"]["high"] < 1.0
        assert s["random", split]["step_accuracy"]["rate"] < noisy["step_accuracy"]["rate"]
        assert sum(noisy["outcomes_by_attempt"][1].values()) > 0  # second attempts at a point happen
    # the memoriser: perfect where turns are named by headings, lost as soon as they are named relatively
    assert s["rule-blind", "id"]["step_accuracy"]["rate"] == 1.0 and s["rule-blind", "id"]["success"]["rate"] == 1.0
    blind = s["rule-blind", "ood-rule"]
    assert blind["route_success"]["rate"] == 0.0 and blind["step_accuracy"]["rate"] == 0.0
    assert blind["outcomes"]["wrong_action"] == 2 * N and blind["observation_accuracy"]["rate"] == 1.0
    assert blind["outcomes_by_attempt"] == [{"wrong_action": N}, {"wrong_action": N}]
    # the rule-blind answers on ood-rule are refused for naming a heading, not for misreading the point
    ep = VIRL(world="grid", split="ood-rule").episode(3)
    assert "not one of the available actions" in ep.step(get_policy("rule-blind")([ep])[0]).feedback


def test_intervals_are_sane_and_seeded() -> None:
    records = _records("noisy", "id") + _records("random", "ood-rule", n=10)
    a, b = summarise(records), summarise(list(records))
    assert a == b  # the bootstrap is seeded: the same records give the same intervals
    for key in ("step_accuracy", "route_success", "observation_accuracy", "format_validity"):
        cell = a[key]
        # (a tolerance: core.stats.wilson rounds its bounds at 0 and n hits to within 1e-16 of the rate)
        assert 0.0 <= cell["low"] <= cell["rate"] + 1e-12 and cell["rate"] <= cell["high"] + 1e-12 <= 1.0 + 2e-12, key
    step = a["step_accuracy"]
    assert step["low"] < step["rate"] < step["high"] and step["episodes"] == len(records)
    assert step["n"] == sum(r["answers"] for r in records) == sum(len(r["action_correct"]) for r in records)
    assert a["success"] == a["route_success"]
    row = VIRL.table_row(a)
    assert row["step acc. %"].count("[") == 1 and row["episodes"] == len(records)
    empty = summarise([])
    assert empty["episodes"] == 0 and VIRL.table_row(empty)["step acc. %"] == "–"
    # the noisy policy's coin is seeded by episode, point and attempt: replaying gives the same records
    assert [r["outcomes"] for r in _records("noisy", "id")] == [r["outcomes"] for r in records[:N]]


def test_outcomes_are_counted_by_attempt_at_a_point() -> None:
    rows = [
        {"points": [0, 0, 1, 2, 2], "outcomes": ["wrong_action", "correct", "correct", "illegal", "correct"]},
        {"points": [0, 1, 1], "outcomes": ["correct", "wrong_observation", "wrong_action"]},
    ]
    assert outcomes_by_attempt_at_point(rows) == [
        {"wrong_action": 1, "correct": 2, "illegal": 1, "wrong_observation": 1},
        {"correct": 2, "wrong_action": 1},
    ]


def test_records_say_what_each_answer_got_right() -> None:
    game = VIRL(world="grid", style="compact")
    ep = game.episode(4)
    wrong_claim = "nothing" if ep.point.intersection else "intersection"
    ep.step(f"observation: {wrong_claim}\naction: {ep.expert_action}")
    ep.step("no action at all")
    rec = ep.record()
    assert rec["action_correct"] == [True, False] and rec["observation_correct"] == [False, False]
    assert rec["parsed"] == [True, False] and rec["points_done"] == 0 and not rec["success"]
    done = play(get_policy("oracle"), [game.episode(4)])[0].record()
    assert done["points_done"] == done["n_points"] and all(done["observation_correct"])


def test_sets_hold_distinct_routes_and_replay_by_seed() -> None:
    game = VIRL(world="grid")
    routes = game.route_set(0, 200)
    ids = [r.id for _, r in routes]
    assert len(set(ids)) == 200
    seeds = [s for s, _ in routes]
    assert seeds != [episode_seed(0, k) for k in range(200)]  # repeats were skipped
    assert set(seeds) <= {episode_seed(0, k) for k in range(1000)}
    assert [r.id for _, r in game.route_set(0, 50)] == ids[:50]
    episodes = game.episodes(0, 200)
    assert [ep.route.id for ep in episodes] == ids and [ep.seed for ep in episodes] == seeds
    assert all(game.episode(ep.seed).route.id == ep.route.id for ep in episodes[::17])


def test_a_small_district_fails_fast_with_its_size() -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"holds about \d+ distinct routes \(\d+ found in \d+ draws\)") as err:
        VIRL(world="grid", split="ood-place").route_set(0, 400)
    message = str(err.value)
    assert "\n" not in message and "--district all" in message and "400 asked for" in message
    assert time.perf_counter() - start < 10
    with pytest.raises(ValueError, match="district 'test'"):
        VIRL(world="grid", split="ood-place").episodes(0, 400)


def test_route_counts_are_estimated_from_repeats() -> None:
    assert estimate_routes(30, 30) == (float("inf"), float("inf"))
    rng = random.Random(0)
    for total in (300, 5000):
        draws = [rng.randrange(total) for _ in range(total)]
        estimate, se = estimate_routes(len(draws), len(set(draws)))
        assert abs(estimate - total) < 4 * se and se < 0.1 * total


def test_data_files_hold_distinct_routes_and_resume_exactly(tmp_path) -> None:
    game = VIRL(world="grid", split="ood-rule", style="compact")
    out = game.write_dataset(tmp_path / "routes.jsonl", n=120, seed=3, kind="routes", progress=False)
    rows = list(read_jsonl(out))
    assert [r["index"] for r in rows] == list(range(120)) and len({r["id"] for r in rows}) == 120
    assert all(game.route(r["seed"]).id == r["id"] for r in rows[::13])
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:70]) + "\n" + lines[70][:30])  # killed mid-write
    game.write_dataset(out, n=120, seed=3, kind="routes", progress=False)
    assert list(read_jsonl(out)) == rows

    sft = tmp_path / "sft.jsonl"
    game.write_dataset(sft, n=4, seed=3, kind="optimal", progress=False)
    full = list(read_jsonl(sft))
    assert [r["route_id"] for r in full if r["point"] == 0] == [r["id"] for r in rows[:4]]
    lines = sft.read_text().splitlines()
    sft.write_text("\n".join(lines[:-3]) + "\n")  # the last route's rows cut short
    game.write_dataset(sft, n=4, seed=3, kind="optimal", progress=False)
    assert list(read_jsonl(sft)) == full
    with pytest.raises(ValueError, match="no option"):
        game.write_dataset(sft, n=4, seed=3, kind="optimal", progress=False, thought=True)


def test_show_renders_the_route(tmp_path, capsys) -> None:
    game = VIRL(world="grid", image_size=128)
    line = game.show(2, tmp_path)
    assert line.startswith(f"route {game.route(2).id}:") and "views at point" in line and "\n" not in line
    assert capsys.readouterr().out.startswith("1. First, turn")
    assert (tmp_path / "views.png").is_file() and (tmp_path / "map.png").is_file()
    assert "views at point 0" in game.show(2, tmp_path, point=0)
    with pytest.raises(ValueError, match="--point must be below"):
        game.show(2, tmp_path, point=10_000)


def test_split_objects_round_trip() -> None:
    split = VIRLSplit("night", "relative", "all", "dusk", "custom")
    game = VIRL(world="grid", split=split)
    assert game.split_name == "night" and VIRL(world="grid", split=game.to_dict()["split"]).split == split
