"""Does a vision-language base model see? Naming accuracy on fresh images of the pretraining corpus' kinds.

Format validity says nothing about sight: a model that answers "cards: K♠ K♠" to every table writes perfect
answers. These measures compare what was named with what the image shows, item by item, on images drawn with
a seed that pretraining never used.
"""

from __future__ import annotations

import re
from typing import Any

HELD_OUT_SEED = 10_000


def _cards(text: str) -> list[str]:
    return text.replace("cards:", " ").split()


def _signs(text: str) -> tuple[set[str], str]:
    signs = re.search(r"signs:(.*)", text)
    inter = re.search(r"intersection:\s*(\w+)", text)
    items = {s.strip() for s in signs.group(1).split(";")} - {"", "none"} if signs else set()
    return items, inter.group(1) if inter else ""


def naming_accuracy(model: Any, processor: Any, n: int = 64, image_size: int = 160) -> dict[str, float]:
    """Greedy answers to ``n`` fresh tables and ``n`` fresh street views.

    ``card_accuracy``: share of shown cards named right at their position; ``card_lists_exact``: tables named
    entirely right; ``chance_card_accuracy``: what naming one fixed card everywhere would score (1/52);
    ``sign_recall``: share of shown signs (name and side) named; ``intersection_accuracy``: yes/no right.
    """
    from gengap.models.generation import SamplingConfig, generate
    from gengap.train.corpus import vision_corpus

    out: dict[str, float] = {}
    for skill in ("name_cards", "name_signs"):
        rows = list(vision_corpus(n, image_size, seed=HELD_OUT_SEED, skills=(skill,)))
        answers = generate(
            model,
            processor,
            [r["messages"][:1] for r in rows],
            SamplingConfig(max_new_tokens=96),
            images=[r["images"] for r in rows],
        )
        truths = [r["messages"][1]["content"][0]["text"] for r in rows]
        if skill == "name_cards":
            right = total = exact = 0
            for a, t in zip(answers, truths, strict=True):
                said, shown = _cards(a.text), _cards(t)
                total += len(shown)
                right += sum(x == y for x, y in zip(said, shown, strict=False))
                exact += said == shown
            out["card_accuracy"] = right / total
            out["card_lists_exact"] = exact / n
            out["chance_card_accuracy"] = 1 / 52
        else:
            found = shown_n = inter = 0
            for a, t in zip(answers, truths, strict=True):
                said, said_i = _signs(a.text)
                shown, shown_i = _signs(t)
                found += len(said & shown)
                shown_n += len(shown)
                inter += said_i == shown_i
            out["sign_recall"] = found / max(1, shown_n)
            out["intersection_accuracy"] = inter / n
    return {k: round(v, 4) for k, v in out.items()}
