"""Plane geometry of walking in a city: bearings, compass headings, relative turns and sides.

Everything works in a local metric plane (x east, y north, metres). Bearings are degrees clockwise from
north in [0, 360). Every angle difference wraps around north, so 350° → 10° is a 20° turn to the right,
not a 340° turn to the left (the reference implementation gets this wrong near north).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

Point = tuple[float, float]

COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")
"""The absolute action space (the ``id`` split), one name per 45° sector, clockwise from north."""
RELATIVE = ("left", "right", "slightly left", "slightly right")
"""The relative action space (the ``ood-rule`` split)."""
VIEWS = ("front", "right", "back", "left")
"""The four street views around the agent, in the order they are tiled (and listed in text)."""

EARTH_RADIUS_M = 6_371_008.8


def bearing(a: Point, b: Point) -> float:
    """Bearing from ``a`` to ``b`` in degrees clockwise from north, in [0, 360)."""
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0


def angle_diff(a: float, b: float) -> float:
    """Signed smallest rotation from bearing ``a`` to bearing ``b``, in (-180, 180]; positive is clockwise."""
    d = (b - a) % 360.0
    return d - 360.0 if d > 180.0 else d


def distance(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def compass_index(bearing_deg: float) -> int:
    """The 45° compass sector (0 = north, 1 = northeast, …) that contains a bearing."""
    return math.floor((bearing_deg % 360.0) / 45.0 + 0.5) % 8


def compass_name(bearing_deg: float) -> str:
    return COMPASS[compass_index(bearing_deg)]


def relative_turn(from_index: int, to_index: int) -> str | None:
    """The relative name of a turn between two compass headings, or ``None`` for no turn or a U-turn.

    One compass step (45°) is "slightly", two or three steps (90°, 135°) are a full turn; a U-turn (180°)
    has no name in the study's relative action space, so routes never ask for one.
    """
    steps = (to_index - from_index) % 8
    return {1: "slightly right", 2: "right", 3: "right", 5: "left", 6: "left", 7: "slightly left"}.get(steps)


def side(heading_deg: float, origin: Point, target: Point) -> str:
    """Which of the four views (front, right, back, left) shows ``target`` to an agent at ``origin``."""
    rel = angle_diff(heading_deg, bearing(origin, target))
    if -45.0 <= rel <= 45.0:
        return "front"
    if 45.0 < rel <= 135.0:
        return "right"
    if -135.0 <= rel < -45.0:
        return "left"
    return "back"


def left_or_right(heading_deg: float, origin: Point, target: Point) -> tuple[str, float]:
    """``("left" | "right", |relative angle|)`` of ``target`` seen from ``origin`` facing ``heading_deg``."""
    rel = angle_diff(heading_deg, bearing(origin, target))
    return ("right" if rel > 0 else "left"), abs(rel)


def polyline_length(points: Sequence[Point]) -> float:
    return sum(distance(a, b) for a, b in pairwise(points))


def point_along(points: Sequence[Point], at: float) -> tuple[Point, float]:
    """The point ``at`` metres along a polyline and the bearing of travel there."""
    if len(points) < 2:
        raise ValueError("a polyline needs at least two points")
    run = 0.0
    for a, b in pairwise(points):
        seg = distance(a, b)
        if seg > 0 and run + seg >= at:
            t = (at - run) / seg
            return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), bearing(a, b)
        run += seg
    a, b = points[-2], points[-1]
    return b, bearing(a, b)


def start_bearing(points: Sequence[Point], window: float = 20.0) -> float:
    """Direction of departure along a polyline: from its first point to the point ``window`` metres along."""
    end, _ = point_along(points, min(window, polyline_length(points)))
    return bearing(points[0], end) if distance(points[0], end) > 0 else bearing(points[0], points[-1])


def end_bearing(points: Sequence[Point], window: float = 20.0) -> float:
    """Direction of arrival at the end of a polyline, over its last ``window`` metres."""
    return (start_bearing(list(reversed(points)), window) + 180.0) % 360.0


class Projection:
    """Latitude/longitude ↔ local metres around an origin (equirectangular; exact enough for a city)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self._kx = math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        self._ky = math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lat: float, lon: float) -> Point:
        return ((lon - self.lon0) * self._kx, (lat - self.lat0) * self._ky)

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return (self.lat0 + y / self._ky, self.lon0 + x / self._kx)
