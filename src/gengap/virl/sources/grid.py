"""A small procedural grid city for tests and quick experiments: seeded, instant, no files.

Streets run on a square grid (optionally rotated, so headings near north wrap around 0°/360°), and every
block corner gets a shop or two set back from the kerb, with names drawn from word lists, all distinct.
"""

from __future__ import annotations

import math
import random

from gengap.virl.world import Place, World, build_world

_ADJ = (
    "Blue",
    "Golden",
    "Little",
    "Old",
    "Red",
    "Silver",
    "Green",
    "Happy",
    "Quiet",
    "Corner",
    "Royal",
    "Lucky",
    "Sunny",
    "Northern",
    "Hidden",
    "Grand",
    "Crimson",
    "Amber",
    "Velvet",
    "Copper",
)
_NOUN = (
    "Lantern",
    "Fox",
    "Oak",
    "Anchor",
    "Crown",
    "Owl",
    "Harbor",
    "Maple",
    "Bridge",
    "Lion",
    "Pearl",
    "Garden",
    "Star",
    "Mill",
    "Compass",
    "Tulip",
    "Falcon",
    "Kettle",
    "Sparrow",
    "Orchard",
)
_KIND = (
    ("Café", "cafe"),
    ("Bakery", "bakery"),
    ("Books", "books"),
    ("Bank", "bank"),
    ("Pharmacy", "pharmacy"),
    ("Bistro", "restaurant"),
    ("Market", "supermarket"),
    ("Hotel", "hotel"),
    ("Gallery", "arts_centre"),
    ("Florist", "florist"),
    ("Pub", "pub"),
    ("Cinema", "cinema"),
)


def grid_world(
    blocks: int = 10,
    block_m: float = 100.0,
    *,
    rotation_deg: float = 0.0,
    places_per_corner: float = 1.5,
    missing: float = 0.15,
    seed: int = 0,
    name: str = "grid",
) -> World:
    """A ``blocks``×``blocks`` grid of ``block_m``-metre blocks; ``rotation_deg`` turns the whole city.

    A share ``missing`` of street segments is left out (dead ends, detours), so shortest walks turn more than
    once as in a real city; the largest connected part is kept.
    """
    rng = random.Random(seed)
    rot = math.radians(rotation_deg)

    def xy(i: float, j: float) -> tuple[float, float]:
        x, y = i * block_m, j * block_m
        return (x * math.cos(rot) + y * math.sin(rot), -x * math.sin(rot) + y * math.cos(rot))

    n = blocks + 1
    node = {(i, j): i * n + j for i in range(n) for j in range(n)}
    segments = []
    for (i, j), u in node.items():
        if i + 1 < n:
            segments.append((u, node[i + 1, j], f"{_ordinal(j + 1)} Street", [xy(i, j), xy(i + 1, j)]))
        if j + 1 < n:
            segments.append((u, node[i, j + 1], f"{chr(65 + i)} Avenue", [xy(i, j), xy(i, j + 1)]))
    rng_streets = random.Random(seed + 1)
    segments = [s for s in segments if rng_streets.random() >= missing]
    names = [f"{a} {b} {k}" for a in _ADJ for b in _NOUN for k, _ in _KIND]
    rng.shuffle(names)
    categories = {k: c for k, c in _KIND}
    places = []
    for i in range(n):
        for j in range(n):
            count = int(places_per_corner) + (rng.random() < places_per_corner % 1)
            for _ in range(count):
                # a shop near the intersection: set back from one street, some way along the other
                lateral = rng.choice((-1, 1)) * 12.0 / block_m
                along = rng.choice((-1, 1)) * rng.uniform(8.0, 30.0) / block_m
                p = (i + lateral, j + along) if rng.random() < 0.5 else (i + along, j + lateral)
                if not (0 < p[0] < blocks and 0 < p[1] < blocks):
                    continue
                label = names.pop()
                places.append(Place(label, categories[label.rsplit(" ", 1)[1]], xy(*p)))
    return build_world(name, segments, places, source=f"grid(blocks={blocks}, block_m={block_m}, seed={seed})")


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"
