"""Intervals: Wilson for proportions (never ±0), a seeded bootstrap over episodes for pooled rates."""

from __future__ import annotations

import pytest

from gengap.core.stats import pct, pooled_rate, proportion, wilson


def test_wilson_matches_known_values_and_never_says_plus_minus_zero() -> None:
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson(0, 1000)
    assert low == 0.0 and high == pytest.approx(3.8415 / (1000 + 3.8415), rel=1e-3)  # Wald would say 0 ± 0
    assert wilson(7, 7)[1] == 1.0 and wilson(7, 7)[0] < 1.0
    p = proportion([True, False, None, True])
    assert (p.hits, p.n) == (2, 3) and p.to_dict()["low"] < p.rate < p.to_dict()["high"]
    assert pct(proportion([]).to_dict()) == "–"


def test_pooled_rate_resamples_episodes_and_is_seeded() -> None:
    hits, totals = [0, 24, 0, 24, 11], [24, 24, 24, 24, 24]
    a, b = pooled_rate(hits, totals, seed=1), pooled_rate(hits, totals, seed=1)
    assert a == b and a["rate"] == pytest.approx(59 / 120) and a["low"] < a["rate"] < a["high"]
    # Clustered answers (one route all right, one all wrong): wider than a binomial interval over 120 answers.
    assert a["high"] - a["low"] > wilson(59, 120)[1] - wilson(59, 120)[0]
    perfect = pooled_rate([24] * 48, [24] * 48)
    assert perfect["high"] == 1.0 and perfect["low"] == pytest.approx(wilson(48, 48)[0])  # not ±0
