"""The study's GeneralPoints measurements, computed from episode records (see :meth:`GPEpisode.record`).

Success alone hides how a model fails, so next to it we count every attempt's outcome and measure, on the
first attempt: rule accuracy (the ``number`` field follows the stated rule), the training-rule rate (it
follows the training rule where the two differ — memorisation) and recognition accuracy (VL: ``cards`` field
matches the hand; the first attempt is what a one-attempt evaluation, verification off, sees); an answer
without the field counts as not matching, so dropping a field never helps. Format validity is the share of all
answers with a readable formula field. Every proportion carries its Wilson 95 % interval.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from gengap.core.game import outcomes_by_attempt
from gengap.core.stats import pct, proportion
from gengap.gp.verifier import Outcome


def summarise(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(records)
    first = [r for r in rows if r["attempts"]]
    outcomes = Counter(o for r in rows for o in r["outcomes"])
    return {
        "episodes": len(rows),
        "success": proportion([r["success"] for r in rows]).to_dict(),
        "first_attempt_success": proportion([r["outcomes"][0] == Outcome.CORRECT for r in first]).to_dict(),
        "mean_attempts": sum(r["attempts"] for r in rows) / len(rows) if rows else float("nan"),
        "mean_return": sum(r["return"] for r in rows) / len(rows) if rows else float("nan"),
        "outcomes": {o.value: outcomes.get(o.value, 0) for o in Outcome},
        "outcomes_by_attempt": outcomes_by_attempt(r["outcomes"] for r in rows),
        "format_validity": proportion([p for r in rows for p in r.get("parsed", [])]).to_dict(),
        "rule_accuracy": proportion([r["rule_correct"][0] for r in first]).to_dict(),
        "train_rule_rate": proportion([r["train_rule"][0] for r in first]).to_dict(),
        "recognition": proportion([r["cards_correct"][0] for r in first if r["vision"]]).to_dict(),
    }


def table_row(s: dict[str, Any]) -> dict[str, Any]:
    """The human-readable columns of one summary (percent with Wilson 95 % intervals)."""
    return {
        "episodes": s["episodes"],
        "success %": pct(s["success"]),
        "1st-try success %": pct(s["first_attempt_success"]),
        "rule acc %": pct(s["rule_accuracy"]),
        "train-rule %": pct(s["train_rule_rate"]),
        "recognition %": pct(s["recognition"]),
        "valid format %": pct(s["format_validity"]),
        "attempts": f"{s['mean_attempts']:.2f}",
    }
