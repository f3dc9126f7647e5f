"""The study's verdict logic on constructed numbers: each verdict, its thresholds, and the statistics under it."""

from __future__ import annotations

import math

import pytest

from gengap.core.stats import t_cdf, t_quantile
from gengap.study.verdicts import Thresholds, decide, isotonic, read_at, welch


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.95, 4, 2.1318), (0.975, 30, 2.0423), (0.975, 1e7, 1.95996)],
)
def test_t_quantiles_match_the_tables(p, df, expected) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-3)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-3)  # symmetric


def test_isotonic_pools_violators_in_the_datas_direction_and_reads_between_checkpoints() -> None:
    fit = isotonic([(0.0, 0.0), (0.02, 0.04), (0.04, 0.02), (0.06, 0.05)])
    assert [y for _, y in fit] == pytest.approx([0.0, 0.03, 0.03, 0.05])  # the dip is pooled
    falling = isotonic([(0.0, 0.0), (0.02, -0.04), (0.04, -0.02), (0.06, -0.05)])
    assert [y for _, y in falling] == pytest.approx([0.0, -0.03, -0.03, -0.05])  # SFT's typical path
    assert read_at([(0.0, 0.0), (0.1, 0.1)], 0.03) == pytest.approx(0.03)
    assert read_at([(0.0, 0.0), (0.05, 0.1)], 0.10) is None  # beyond what this seed reached
    with pytest.raises(ValueError, match="finite"):
        isotonic([(0.0, math.nan)])


def paths(ood_per_id: float, offsets: list[float]) -> list[list[tuple[float, float]]]:
    """Seeds whose OOD change is ``ood_per_id`` × ID gain + a per-seed offset, checkpoints to +12 points."""
    return [[(g / 100, ood_per_id * g / 100 + off) for g in range(0, 13, 2)] for off in offsets]


SPREAD = [-0.004, 0.0, 0.004]


def test_rl_generalises_better_when_the_interval_lies_above_zero() -> None:
    v = decide(paths(0.5, SPREAD), paths(-0.5, SPREAD), rl_ahead_at_matched_compute=True)
    assert v.verdict == "rl-generalises-better"
    assert v.difference.level == 0.10 and v.difference.d == pytest.approx(0.10)  # 0.5·10 − (−0.5·10) points
    assert v.difference.ci[0] > 0


def test_sft_better_when_it_lies_below_zero() -> None:
    v = decide(paths(-0.5, SPREAD), paths(0.2, SPREAD), rl_ahead_at_matched_compute=True)
    assert v.verdict == "sft-better" and v.difference.ci[1] < 0


def test_equal_frontiers_are_only_moves_less_when_rl_leads_at_matched_compute() -> None:
    rl, sft = paths(-0.2, SPREAD), paths(-0.2, [s + 0.001 for s in SPREAD])
    moves_less = decide(rl, sft, rl_ahead_at_matched_compute=True)
    same = decide(rl, sft, rl_ahead_at_matched_compute=False)
    assert moves_less.verdict == "rl-only-moves-less"
    assert same.verdict == "same-frontier"
    lo, hi = moves_less.difference.ci_equivalence
    assert lo > -0.03 and hi < 0.03  # two one-sided tests pass inside the ±3-point margin


def test_noisy_seeds_are_inconclusive_and_say_how_many_seeds_would_settle_it() -> None:
    noisy = [-0.05, 0.0, 0.05]
    v = decide(paths(0.1, noisy), paths(0.0, noisy), rl_ahead_at_matched_compute=True)
    assert v.verdict == "inconclusive"
    assert v.seeds_needed is not None and v.seeds_needed > 3
    assert "seeds per branch" in v.reason
    # With the seeds it asks for, the same spread (sample SD 5 points) settles it: D = +1 point is then shown
    # equivalent to 0 within the ±3-point margin.
    n = v.seeds_needed
    centred = [i - (n - 1) / 2 for i in range(n)]
    scale = 0.05 / math.sqrt(sum(c * c for c in centred) / (n - 1))
    spread = [c * scale for c in centred]
    settled = decide(paths(0.1, spread), paths(0.0, spread), rl_ahead_at_matched_compute=True)
    assert settled.verdict == "rl-only-moves-less"


def test_levels_no_seed_reached_are_inconclusive_and_say_so() -> None:
    short = [[(0.0, 0.0), (0.01, 0.0)]] * 3
    v = decide(short, short, rl_ahead_at_matched_compute=True)
    assert v.verdict == "inconclusive" and v.difference is None and "train longer" in v.reason


def test_the_verdict_uses_the_highest_level_every_seed_reached() -> None:
    rl = paths(0.5, SPREAD)
    rl[0] = [p for p in rl[0] if p[0] <= 0.06]  # one seed stops at +6 points
    v = decide(rl, paths(-0.5, SPREAD), rl_ahead_at_matched_compute=True)
    assert [d.level for d in v.differences] == [0.03, 0.05]
    assert v.difference.level == 0.05


def test_intervals_need_two_seeds_and_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="at least 2 seeds"):
        welch([0.1], [0.0, 0.1], 0.05, 0.05)
    with pytest.raises(ValueError, match="alpha"):
        Thresholds(alpha=0.7)
    # A wider margin turns the same numbers from inconclusive into equivalent.
    rl, sft = paths(0.0, [-0.02, 0.0, 0.02]), paths(0.0, [-0.02, 0.0, 0.02])
    assert decide(rl, sft, rl_ahead_at_matched_compute=False).verdict == "inconclusive"
    wide = decide(rl, sft, rl_ahead_at_matched_compute=False, thresholds=Thresholds(equivalence=0.10))
    assert wide.verdict == "same-frontier"
