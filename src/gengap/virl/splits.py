"""Named V-IRL splits: which action space the prompt lists, which district routes come from, how views look.

| split | actions | district | view style |
|---|---|---|---|
| ``id`` | absolute (north, northeast, …) | train (west half of the world) | ``day`` |
| ``ood-rule`` | relative (left, right, slightly left, slightly right) | train | ``day`` |
| ``ood-place`` | absolute | test (east half) | ``day`` |
| ``ood-visual`` | absolute | test | ``dusk`` |

For train-one-city, test-another, pass the other city as the world (e.g. ``world="karhula"``) with
``district="all"``. A reference-format folder has no districts: its listed routes are replayed on every split
(with the split's action space and view style).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gengap.virl.geometry import COMPASS, RELATIVE

ACTION_SPACES = ("absolute", "relative")
DISTRICTS = ("train", "test", "all")


@dataclass(frozen=True)
class VIRLSplit:
    name: str
    actions: str
    district: str
    style: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.actions not in ACTION_SPACES:
            raise ValueError(f"action space must be one of {ACTION_SPACES}, got {self.actions!r}")
        if self.district not in DISTRICTS:
            raise ValueError(f"district must be one of {DISTRICTS}, got {self.district!r}")

    @property
    def directions(self) -> tuple[str, ...]:
        return COMPASS if self.actions == "absolute" else RELATIVE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SPLITS: dict[str, VIRLSplit] = {
    s.name: s
    for s in (
        VIRLSplit("id", "absolute", "train", "day", "training distribution: absolute headings, west district"),
        VIRLSplit("ood-rule", "relative", "train", "day", "rule OOD: relative turns (left/right), same streets"),
        VIRLSplit("ood-place", "absolute", "test", "day", "place OOD: unseen district, same look"),
        VIRLSplit("ood-visual", "absolute", "test", "dusk", "visual OOD: unseen district rendered at dusk"),
    )
}


def get_split(split: str | VIRLSplit | dict[str, Any]) -> VIRLSplit:
    if isinstance(split, VIRLSplit):
        return split
    if isinstance(split, dict):
        return VIRLSplit(**split)
    try:
        return SPLITS[split]
    except KeyError:
        raise ValueError(f"unknown V-IRL split {split!r}; choose one of {sorted(SPLITS)}") from None
