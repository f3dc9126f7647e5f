"""The study's V-IRL measurements, computed from episode records (see :meth:`VIRLEpisode.record`).

* ``step_accuracy`` — the paper's headline: the share of *answers* whose action equals the expert action (every
  attempt is a sample; the observation is not looked at), pooled over all answers of all routes, with a 95 %
  bootstrap interval that resamples whole routes (a route's answers are not independent trials);
* ``route_success`` (also ``success``) — routes walked to the end within the attempt budget (Wilson interval);
* ``observation_accuracy`` — the share of answers whose observation tells rightly whether the agent stands at
  an intersection (the landmark/observation skill; pooled and bootstrapped as step accuracy);
* ``format_validity`` — the share of answers with a readable action (Wilson);
* ``outcomes`` and ``outcomes_by_attempt`` — verifier outcomes in all, and for the 1st, 2nd, … attempt *at a
  point* (a route's second point answered right at once is a first attempt);
* ``mean_return`` and ``mean_points_reached`` (rail points answered correctly), ``mean_progress`` (that share
  of the route).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from gengap.core.stats import pct, pooled_rate, proportion
from gengap.virl.verifier import Outcome

BOOTSTRAP_SEED = 0
"""The bootstrap's seed: the same records always give the same intervals."""


def summarise(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(records)
    nan = float("nan")
    actions = [_action_hits(r) for r in rows]
    observations = [r.get("observation_correct") for r in rows]
    with_obs = [o for o in observations if o is not None]
    success = proportion([bool(r["success"]) for r in rows]).to_dict()
    outcomes = Counter(o for r in rows for o in r["outcomes"])
    points_done = [_points_done(r) for r in rows]
    return {
        "episodes": len(rows),
        "step_accuracy": pooled_rate([sum(a) for a in actions], [len(a) for a in actions], seed=BOOTSTRAP_SEED),
        "route_success": success,
        "success": success,
        "observation_accuracy": pooled_rate(
            [sum(o) for o in with_obs], [len(o) for o in with_obs], seed=BOOTSTRAP_SEED
        ),
        "format_validity": proportion([p for r in rows for p in r.get("parsed", [])]).to_dict(),
        "outcomes": {o.value: outcomes.get(o.value, 0) for o in Outcome} | dict(outcomes),
        "outcomes_by_attempt": outcomes_by_attempt_at_point(rows),
        "mean_return": sum(r["return"] for r in rows) / len(rows) if rows else nan,
        "mean_points_reached": sum(points_done) / len(rows) if rows else nan,
        "mean_progress": (
            sum(d / r["n_points"] for d, r in zip(points_done, rows, strict=True) if r.get("n_points")) / len(rows)
            if rows
            else nan
        ),
    }


def outcomes_by_attempt_at_point(rows: Sequence[dict[str, Any]]) -> list[dict[str, int]]:
    """Outcome counts of the 1st, 2nd, … attempt at a rail point (``[{"correct": 400, ...}, {...}]``)."""
    by: list[Counter[str]] = []
    for r in rows:
        points = r.get("points") or list(range(len(r["outcomes"])))
        previous, attempt = None, 0
        for point, outcome in zip(points, r["outcomes"], strict=True):
            attempt = attempt + 1 if point == previous else 0
            previous = point
            while len(by) <= attempt:
                by.append(Counter())
            by[attempt][outcome] += 1
    return [dict(c) for c in by]


def _action_hits(record: dict[str, Any]) -> list[bool]:
    """Per answer, was the action the expert's? (Records written before the list existed: from the rate.)"""
    if "action_correct" in record:
        return [bool(a) for a in record["action_correct"]]
    answers = int(record.get("answers", len(record["outcomes"])))
    hits = round(float(record.get("step_accuracy", 0.0)) * answers)
    return [True] * hits + [False] * (answers - hits)


def _points_done(record: dict[str, Any]) -> int:
    if "points_done" in record:
        return int(record["points_done"])
    return int(record.get("reached", 0)) + int(bool(record["success"]))


def table_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The human-readable columns of one summary: percents with their 95 % intervals."""
    ret = summary["mean_return"]
    return {
        "episodes": summary["episodes"],
        "step acc. %": pct(summary["step_accuracy"]),
        "route success %": pct(summary["route_success"]),
        "observation %": pct(summary["observation_accuracy"]),
        "format %": pct(summary["format_validity"]),
        "points reached": "–" if ret != ret else f"{summary['mean_points_reached']:.1f}",
        "mean return": "–" if ret != ret else f"{ret:.2f}",
    }
