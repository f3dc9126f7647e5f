"""Street views and route maps drawn from the map alone (Pillow only; no imagery is downloaded).

:func:`render_views` draws the four views around the agent — front, right, back, left (its heading, then
clockwise) — tiled 2×2 in that order: front top-left, right top-right, back bottom-left, left bottom-right.
Looking along the street (front, back) the road runs to the horizon between two rows of façades; looking
sideways (right, left) the agent faces a façade. Every visible landmark hangs a shop sign with its real name
in the view it stands in, placed by its bearing; at an intersection, streets leaving the node open gaps in
the façades. The *style* (palette, sky, signs, lit windows) is a parameter, so the visual OOD split can
change the look as well as the place. :func:`render_map` draws a route on the street map.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from gengap.virl.geometry import VIEWS, angle_diff, bearing, distance
from gengap.virl.routes import Route
from gengap.virl.world import World

Color = tuple[int, int, int]


@dataclass(frozen=True)
class ViewStyle:
    sky_top: Color
    sky_bottom: Color
    ground: Color
    road: Color
    line: Color
    facades: tuple[Color, ...]
    window: Color
    sign_board: Color
    sign_text: Color
    sign_border: Color


STYLES: dict[str, ViewStyle] = {
    "day": ViewStyle(
        sky_top=(110, 170, 235),
        sky_bottom=(200, 225, 250),
        ground=(170, 170, 165),
        road=(95, 95, 100),
        line=(240, 240, 240),
        facades=((214, 196, 160), (190, 120, 95), (230, 225, 210), (160, 170, 180), (205, 170, 120)),
        window=(70, 95, 130),
        sign_board=(250, 250, 245),
        sign_text=(25, 25, 30),
        sign_border=(40, 60, 120),
    ),
    "dusk": ViewStyle(
        sky_top=(45, 30, 85),
        sky_bottom=(240, 130, 80),
        ground=(70, 65, 75),
        road=(40, 40, 50),
        line=(230, 200, 90),
        facades=((90, 70, 90), (60, 75, 95), (110, 85, 70), (75, 60, 60), (95, 100, 110)),
        window=(250, 210, 110),
        sign_board=(30, 25, 40),
        sign_text=(255, 235, 120),
        sign_border=(240, 80, 140),
    ),
}
HORIZON = 0.45
"""Height of the horizon as a share of a view's height."""


def render_views(world: World, route: Route, index: int, *, style: str = "day", size: int = 512) -> Image.Image:
    """The 2×2 street views at rail point ``index`` of ``route`` (``size``×``size`` pixels in all)."""
    if style not in STYLES:
        raise ValueError(f"unknown view style {style!r}; choose one of {sorted(STYLES)}")
    point = route.rail[index]
    tile = size // 2
    canvas = Image.new("RGB", (tile * 2, tile * 2))
    if world.meta.get("panoramas"):  # reference data: crops of the real panorama, not drawings
        from gengap.virl.sources.reference import panorama_views

        crops = panorama_views(world, point.xy, point.bearing, tile)
        if crops is not None:
            for k, crop in enumerate(crops):
                canvas.paste(crop, ((k % 2) * tile, (k // 2) * tile))
            return canvas
    seed = int(hashlib.blake2b(f"{point.xy[0]:.0f},{point.xy[1]:.0f}".encode(), digest_size=4).hexdigest(), 16)
    for k, view in enumerate(VIEWS):
        heading = (point.bearing + 90.0 * k) % 360.0
        signs = [
            (name, angle_diff(heading, bearing(point.xy, _place_xy(world, name, point.xy))), _dist(world, name, point))
            for name, v in point.landmarks
            if v == view
        ]
        openings = [angle_diff(heading, b) for b in point.openings]
        img = _view(tile, STYLES[style], heading, signs, openings, along=view in ("front", "back"), seed=seed + k)
        canvas.paste(img, ((k % 2) * tile, (k // 2) * tile))
    draw = ImageDraw.Draw(canvas)
    draw.line([(tile, 0), (tile, 2 * tile)], fill=(0, 0, 0), width=2)
    draw.line([(0, tile), (2 * tile, tile)], fill=(0, 0, 0), width=2)
    return canvas


def _place_xy(world: World, name: str, near: tuple[float, float]) -> tuple[float, float]:
    """Where the named place nearest to ``near`` stands (observations list places within tens of metres)."""
    for radius in (60.0, 250.0, 1000.0):
        found = [p for _, p in world.places_near(near, radius) if p.name == name]
        if found:
            return min(found, key=lambda p: distance(near, p.xy)).xy
    raise ValueError(f"no place named {name!r} near {near}")


def _dist(world: World, name: str, point) -> float:
    return distance(point.xy, _place_xy(world, name, point.xy))


def _view(
    w: int,
    st: ViewStyle,
    heading: float,
    signs: list[tuple[str, float, float]],
    openings: list[float],
    *,
    along: bool,
    seed: int,
) -> Image.Image:
    img = Image.new("RGB", (w, w), st.sky_top)
    d = ImageDraw.Draw(img)
    hy = int(w * HORIZON)
    for y in range(hy):  # sky gradient
        t = y / max(1, hy - 1)
        d.line(
            [(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(st.sky_top, st.sky_bottom, strict=True))
        )
    d.rectangle([0, hy, w, w], fill=st.ground)
    facade = st.facades[seed % len(st.facades)]
    other = st.facades[(seed // 7) % len(st.facades)]
    if along:
        cx = w // 2
        # the road to the horizon (or a wall across it when no street continues ahead)
        ahead_open = not openings or any(abs(a) < 30 for a in openings)
        road = [(int(w * 0.15), w), (int(w * 0.85), w), (cx + w // 40, hy), (cx - w // 40, hy)]
        d.polygon(road, fill=st.road)
        for k in range(6):  # centre dashes
            y0 = hy + (w - hy) * (k / 6) ** 1.6
            y1 = hy + (w - hy) * ((k + 0.5) / 6) ** 1.6
            d.line([(cx, y0), (cx, y1)], fill=st.line, width=max(1, int(3 * (y1 - hy) / (w - hy))))
        left_gap = any(-120 < a < -60 for a in openings)
        right_gap = any(60 < a < 120 for a in openings)
        _side_wall(d, w, hy, facade, st, left=True, gap=left_gap)
        _side_wall(d, w, hy, other, st, left=False, gap=right_gap)
        if not ahead_open:
            d.rectangle([cx - w // 6, hy - w // 6, cx + w // 6, hy + w // 40], fill=other, outline=(0, 0, 0))
        for name, rel, dist in signs:
            # a sign on the wall of its side, nearer (lower, bigger) when the place is closer
            near = max(0.15, min(1.0, 12.0 / max(dist, 1.0)))
            right = rel > 0 if abs(rel) < 90 else rel < 0
            sw = int(w * (0.16 + 0.22 * near))
            sx = int(w * (0.02 if not right else 0.98) - (0 if not right else sw))
            sy = int(hy - w * (0.05 + 0.2 * near))
            _sign(d, name, sx, sy, sw, st)
    else:
        gap = any(abs(a) < 30 for a in openings)
        _facade_front(d, w, hy, facade, st, gap=gap, seed=seed)
        for name, rel, _ in signs:
            sw = int(w * 0.42)
            cx = int(w / 2 + (rel / 45.0) * w * 0.3)
            _sign(d, name, max(2, min(w - sw - 2, cx - sw // 2)), int(w * 0.28), sw, st)
    return img


def _side_wall(d: ImageDraw.ImageDraw, w: int, hy: int, color: Color, st: ViewStyle, *, left: bool, gap: bool) -> None:
    """A row of façades along one side of the street, receding to the vanishing point."""
    vx = w // 2
    near_x = 0 if left else w
    edge = int(w * 0.15) if left else int(w * 0.85)
    top_near, top_far = int(w * 0.02), hy - w // 12
    far_x = vx - w // 30 if left else vx + w // 30
    pts = [(near_x, top_near), (far_x, top_far), (far_x, hy), (edge, w), (near_x, w)]
    d.polygon(pts, fill=color, outline=(0, 0, 0))
    for k in range(1, 6):  # windows as vertical strips
        t = k / 6
        x = near_x + (pts[1][0] - near_x) * t**0.7
        y0 = top_near + (top_far - top_near) * t**0.7 + 6
        y1 = w - (w - hy) * t**0.7 - 10
        d.line([(x, y0), (x, (y0 + y1) / 2)], fill=st.window, width=max(1, int(6 * (1 - t))))
    if gap:  # a side street: a gap in the wall with its road
        t0, t1 = 0.45, 0.7
        x0 = near_x + (pts[1][0] - near_x) * t0**0.7
        x1 = near_x + (pts[1][0] - near_x) * t1**0.7
        ytop0 = top_near + (top_far - top_near) * t0**0.7
        ybot0 = w - (w - hy) * t0**0.7
        ybot1 = w - (w - hy) * t1**0.7
        d.polygon([(x0, ytop0), (x1, ytop0), (x1, ybot1), (x0, ybot0)], fill=st.sky_bottom)
        d.polygon([(x0, ybot0 - 4), (x1, ybot1 - 2), (x1, ybot1 + 6), (x0, ybot0 + 10)], fill=st.road)


def _facade_front(
    d: ImageDraw.ImageDraw, w: int, hy: int, color: Color, st: ViewStyle, *, gap: bool, seed: int
) -> None:
    """Looking sideways: pavement, then a façade (or a street running away through a gap)."""
    base = int(w * 0.78)
    d.rectangle([0, base, w, w], fill=st.road)
    d.rectangle([0, int(w * 0.05), w, base], fill=color, outline=(0, 0, 0))
    cols = 4 + seed % 3
    for c in range(cols):
        for r in range(2):
            x0 = int(w * (0.06 + c * 0.9 / cols))
            y0 = int(w * (0.1 + r * 0.12))
            d.rectangle([x0, y0, x0 + int(w * 0.5 / cols), y0 + int(w * 0.07)], fill=st.window)
    if gap:
        x0, x1 = int(w * 0.36), int(w * 0.64)
        d.rectangle([x0, int(w * 0.05), x1, base], fill=st.sky_bottom)
        d.polygon([(x0, base), (x1, base), (w // 2 + 4, hy), (w // 2 - 4, hy)], fill=st.road)


def _sign(d: ImageDraw.ImageDraw, name: str, x: int, y: int, width: int, st: ViewStyle) -> None:
    """A shop sign with the place's real name, its font shrunk until the name fits."""
    height = max(12, width // 4)
    d.rectangle([x, y, x + width, y + height], fill=st.sign_board, outline=st.sign_border, width=max(1, width // 60))
    size = height - 6
    text = name if len(name) <= 40 else name[:39] + "…"
    while size > 6:
        font = _font(size)
        if d.textlength(text, font=font) <= width - 6:
            break
        size -= 1
    font = _font(size)
    tw = d.textlength(text, font=font)
    d.text((x + (width - tw) / 2, y + (height - size) / 2 - 1), text, font=font, fill=st.sign_text)


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


# ------------------------------------------------------------------------------------------------ the map


def render_map(world: World, route: Route, *, size: int = 800, margin: float = 60.0) -> Image.Image:
    """The route on the street map: streets grey, route blue, start green, destination red, turns numbered."""
    xs = [p[0] for p in route.polyline] + [route.start.xy[0], route.destination.xy[0]]
    ys = [p[1] for p in route.polyline] + [route.start.xy[1], route.destination.xy[1]]
    x0, x1, y0, y1 = min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin
    scale = (size - 40) / max(x1 - x0, y1 - y0)

    def px(p: tuple[float, float]) -> tuple[float, float]:
        return (20 + (p[0] - x0) * scale, size - 20 - (p[1] - y0) * scale)

    img = Image.new("RGB", (size, size), (248, 246, 240))
    d = ImageDraw.Draw(img)
    for s in world.streets:
        if any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in s.points):
            d.line([px(p) for p in s.points], fill=(190, 190, 190), width=3)
    d.line([px(p) for p in route.polyline], fill=(40, 90, 220), width=6)
    font = _font(14)
    for _, place in world.places_near(((x0 + x1) / 2, (y0 + y1) / 2), max(x1 - x0, y1 - y0)):
        x, y = px(place.xy)
        if 0 <= x <= size and 0 <= y <= size:
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(170, 140, 190))
    for k, t in enumerate(route.turns, 1):
        x, y = px(t.xy)
        d.ellipse([x - 9, y - 9, x + 9, y + 9], fill=(245, 150, 30), outline=(0, 0, 0))
        d.text((x - 4, y - 8), str(k), font=font, fill=(0, 0, 0))
        lx, ly = px(t.landmark.xy)
        d.ellipse([lx - 5, ly - 5, lx + 5, ly + 5], fill=(130, 60, 170))
        d.text((lx + 7, ly - 7), t.landmark.name, font=font, fill=(90, 30, 120))
    for place, color in ((route.start, (30, 160, 60)), (route.destination, (210, 40, 40))):
        x, y = px(place.xy)
        d.ellipse([x - 8, y - 8, x + 8, y + 8], fill=color, outline=(0, 0, 0))
        d.text((x + 10, y - 8), place.name, font=font, fill=color)
    d.polygon([(size - 30, 20), (size - 38, 42), (size - 22, 42)], fill=(0, 0, 0))  # north arrow
    d.text((size - 35, 44), "N", font=font, fill=(0, 0, 0))
    bar = 100 * scale
    d.line([(20, size - 12), (20 + bar, size - 12)], fill=(0, 0, 0), width=3)
    d.text((24 + bar, size - 22), "100 m", font=font, fill=(0, 0, 0))
    if world.attribution:
        d.text((20, 6), world.attribution, font=_font(12), fill=(80, 80, 80))
    return img


def save_png(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    from gengap.gp.render import save_png as _save

    return _save(image, path)
