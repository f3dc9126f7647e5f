"""Draw a GeneralPoints hand as the picture a vision-language model sees: playing cards on green felt.

Everything is drawn here with Pillow primitives (polygons, ellipses and Pillow's built-in scalable font), so
the images need no asset files, no fonts with suit glyphs and no GPU, and are byte-for-byte reproducible on
any machine with the same Pillow version. Card faces are cached, so rendering a table is mostly a few pastes.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from gengap.gp.cards import RANKS, RED_SUITS, SUIT_SYMBOLS, Hand

__all__ = [
    "BLACK",
    "BORDER",
    "CARD_ASPECT",
    "CARD_FACE",
    "FELT",
    "RED",
    "card_boxes",
    "render_card",
    "render_table",
    "save_png",
]

FELT: tuple[int, int, int] = (22, 92, 52)
"""Table colour: dark green, far from both ink colours and from the card face, so masks are easy."""
CARD_FACE: tuple[int, int, int] = (250, 250, 245)
BORDER: tuple[int, int, int] = (150, 150, 150)
RED: tuple[int, int, int] = (200, 20, 30)
BLACK: tuple[int, int, int] = (20, 20, 24)
CARD_ASPECT: float = 7 / 5
"""Card height over card width (a poker card is 63 × 88 mm, close to 5:7)."""

_TABLE_FILL = 0.9  # fraction of the table width taken by the cards together
_MAX_CARD_HEIGHT = 0.9  # fraction of the table height a card may take (binds only for a single card)
_SUPERSAMPLE_PX = 2000  # faces are drawn ~this wide (2-4× final width), then shrunk, for smooth edges


def card_boxes(n: int, size: int) -> list[tuple[int, int, int, int]]:
    """Pixel boxes ``(left, top, right, bottom)`` of ``n`` cards on a ``size``×``size`` table.

    Cards are ``0.9 * size / n`` wide with a 5:7 aspect, spread evenly with equal gaps (edges included) and
    centred vertically. A lone card would then be taller than the table (1.26 × size), so the card height is
    capped at 0.9 × size and the width follows from the aspect; for two or more cards the cap never binds.
    Exposed so that tests and any region-based metric use the same geometry as the renderer.
    """
    if n < 1:
        raise ValueError("a table needs at least one card")
    width = min(_TABLE_FILL * size / n, _MAX_CARD_HEIGHT * size / CARD_ASPECT)
    w = max(1, round(width))
    h = max(1, min(size, round(w * CARD_ASPECT)))
    gap = (size - n * w) / (n + 1)
    top = (size - h) // 2
    boxes = []
    for i in range(n):
        left = round(gap + i * (w + gap))
        boxes.append((left, top, left + w, top + h))
    return boxes


def render_table(hand: Hand, size: int = 1200) -> Image.Image:
    """Render ``hand`` as an RGB ``size``×``size`` image: the cards in one row on felt, nothing else.

    No text is written on the table itself, so the only way to know the cards is to read them.
    """
    if size < 8:
        raise ValueError(f"table size {size} is too small to draw cards on")
    table = Image.new("RGB", (size, size), FELT)
    for (left, top, right, _bottom), rank, suit in zip(
        card_boxes(len(hand), size), hand.ranks, hand.suits, strict=True
    ):
        face = _card_face(rank, suit, right - left)
        table.paste(face, (left, top), face)  # the alpha channel keeps the felt visible at the corners
    return table


def render_card(rank: str, suit: str, width: int) -> Image.Image:
    """One card face, ``width`` wide and ``round(width * 7 / 5)`` tall, as RGBA.

    Alpha is 0 outside the rounded corners so the card can be pasted onto any background. Returns a copy of
    the cached face, so the caller may draw on it without spoiling later renders.
    """
    return _card_face(rank, suit, width).copy()


def save_png(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` as PNG at ``path`` atomically, creating parent folders; returns the path.

    The image goes to a temporary file in the same folder first and is then moved over ``path`` with
    :func:`os.replace`, so a crash or a concurrent reader never sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------------------------- card faces


@lru_cache(maxsize=1024)
def _card_face(rank: str, suit: str, width: int) -> Image.Image:
    """Draw a card face supersampled and shrink it; cached because a table reuses the same few faces.

    The cached image is shared: only :func:`render_card` hands it out, and only as a copy.
    """
    if rank not in RANKS:
        raise ValueError(f"unknown rank {rank!r}")
    if suit not in SUIT_SYMBOLS:
        raise ValueError(f"unknown suit {suit!r}")
    if width < 1:
        raise ValueError(f"card width must be positive, got {width}")
    height = max(1, round(width * CARD_ASPECT))
    ss = min(4, max(2, -(-_SUPERSAMPLE_PX // width)))  # 4× for small cards, 2× for huge ones (memory)
    W, H = width * ss, height * ss  # the supersampled canvas
    ink = RED if suit in RED_SUITS else BLACK

    card = Image.new("RGBA", (W, H), (*BORDER, 0))
    draw = ImageDraw.Draw(card)
    radius = round(0.07 * W)
    border = max(1, round(0.012 * W))
    draw.rounded_rectangle((0, 0, W - 1, H - 1), radius=radius, fill=(*BORDER, 255))
    draw.rounded_rectangle(
        (border, border, W - 1 - border, H - 1 - border),
        radius=max(0, radius - border),
        fill=(*CARD_FACE, 255),
    )

    # Big suit in the middle: this is what says "red or black, which suit" from far away. Nudged a little
    # below centre so it keeps clear of the corner index (which has no twin at the bottom to balance it).
    _draw_suit(draw, suit, W / 2, H / 2 + 0.05 * W, 0.44 * W, ink)

    # Corner index (rank + small suit) top-left only. Real cards repeat it upside down at bottom-right, but
    # an upside-down 6 is a 9 to anyone reading pixels, so a model could be told two ranks by one card.
    corner = _corner_index(rank, suit, W)
    margin = round(0.05 * W)
    card.alpha_composite(corner, (margin, margin))

    # Box-average ss×ss blocks: smooth edges at a fraction of a LANCZOS resize's cost, and exact size.
    return card.reduce(ss)


def _corner_index(rank: str, suit: str, W: int) -> Image.Image:
    """The rank, large, with a small suit under it, on a transparent layer sized for a card ``W`` wide.

    The rank's cap height is about a third of the card width so that it survives shrinking a four-card
    table to 224 px (cards ~50 px wide, ranks ~17 px tall). Every rank gets the same height; "10" is squeezed
    horizontally to fit the corner rather than shrunk, so it reads as well as a one-character rank.
    """
    ink = RED if suit in RED_SUITS else BLACK
    cap = round(0.33 * W)
    max_text_w = round(0.40 * W)
    mask = _text_mask(rank, cap)
    if mask.width > max_text_w:
        mask = mask.resize((max_text_w, mask.height), Image.Resampling.LANCZOS)
    pip = round(0.15 * W)
    gap = round(0.04 * W)
    col_w = max(mask.width, pip)
    layer = Image.new("RGBA", (col_w, cap + gap + pip), (*ink, 0))
    colour = Image.new("RGBA", mask.size, (*ink, 255))
    layer.paste(colour, ((col_w - mask.width) // 2, 0), mask)
    _draw_suit(ImageDraw.Draw(layer), suit, col_w / 2, cap + gap + pip / 2, pip, ink)
    return layer


def _text_mask(text: str, cap: int) -> Image.Image:
    """An "L" mask of ``text`` cropped to its ink and scaled so it is exactly ``cap`` pixels tall.

    Scaling the cropped ink (rather than trusting font metrics) makes every rank the same height and also
    works if Pillow lacks FreeType and ``load_default`` falls back to its tiny bitmap font.
    """
    cap = max(1, cap)
    font = _font(max(10, round(cap * 1.4)))  # Aileron's cap height is ~0.7 em: draw about at final size
    stroke = max(1, round(cap * 0.045))  # Aileron Regular is thin; a stroke in the ink colour makes it bold
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(
        (0, 0), text, font=font, stroke_width=stroke
    )
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    bbox = mask.getbbox() or (0, 0, mask.width, mask.height)
    mask = mask.crop(bbox)
    if mask.height != cap:
        new_w = max(1, round(mask.width * cap / mask.height))
        mask = mask.resize((new_w, cap), Image.Resampling.LANCZOS)
    return mask


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font (Aileron, scalable since Pillow 10.1); no font files ship with this package."""
    return ImageFont.load_default(size=size)


# ------------------------------------------------------------------------------------------------ suits


def _draw_suit(draw: ImageDraw.ImageDraw, suit: str, cx: float, cy: float, s: float, ink: tuple[int, int, int]) -> None:
    """Draw one suit symbol filling an ``s``×``s`` box centred at ``(cx, cy)``, from plain shapes.

    Shapes rather than glyphs, because suit glyphs are missing from many fonts and would make the images
    depend on what is installed. Coordinates below are in a unit box, x to the right, y down.
    """
    fill = (*ink, 255)

    def pt(x: float, y: float) -> tuple[float, float]:
        return cx + x * s, cy + y * s

    def circle(x: float, y: float, r: float) -> None:
        (x0, y0), (x1, y1) = pt(x - r, y - r), pt(x + r, y + r)
        draw.ellipse((x0, y0, x1, y1), fill=fill)

    if suit == "diamonds":
        draw.polygon([pt(0, -0.5), pt(0.37, 0), pt(0, 0.5), pt(-0.37, 0)], fill=fill)
    elif suit == "hearts":
        _heart(draw, pt, circle, fill, tip_y=0.47, lobe_y=-0.2)
    elif suit == "spades":
        _heart(draw, pt, circle, fill, tip_y=-0.5, lobe_y=0.08, half_width=0.46)  # tip up
        draw.polygon([pt(-0.05, 0.1), pt(0.05, 0.1), pt(0.17, 0.5), pt(-0.17, 0.5)], fill=fill)
    elif suit == "clubs":
        r = 0.2
        circle(0, -0.28, r)
        circle(-0.27, 0.07, r)
        circle(0.27, 0.07, r)
        circle(0, 0, 0.14)  # fills the hole between the three leaves
        draw.polygon([pt(-0.05, 0.0), pt(0.05, 0.0), pt(0.17, 0.5), pt(-0.17, 0.5)], fill=fill)
    else:
        raise ValueError(f"unknown suit {suit!r}")


def _heart(
    draw: ImageDraw.ImageDraw,
    pt: Callable[[float, float], tuple[float, float]],
    circle: Callable[[float, float, float], None],
    fill: tuple[int, int, int, int],
    *,
    tip_y: float,
    lobe_y: float,
    half_width: float = 0.5,
) -> None:
    """A heart from two round lobes and the triangle tangent to both; a tip above the lobes makes a spade."""
    r = half_width * 0.52
    lobe_x = half_width - r
    tip = (0.0, tip_y)
    points = [pt(*tip)]
    for side in (-1, 1):
        c = (side * lobe_x, lobe_y)
        dx, dy = tip[0] - c[0], tip[1] - c[1]
        d = math.hypot(dx, dy)
        theta = math.atan2(dy, dx)
        alpha = math.acos(min(1.0, r / d))
        # Of the two tangent points, take the one on the outside of the shape.
        cands = [(c[0] + r * math.cos(theta + a), c[1] + r * math.sin(theta + a)) for a in (alpha, -alpha)]
        tangent = min(cands, key=lambda p: side * -p[0])
        points.append(pt(*tangent))
        points.append(pt(*c))
    # Collected as tip, left tangent, left centre, right tangent, right centre; drawn as a simple polygon.
    tip_pt, lt, lc, rt, rc = points
    draw.polygon([tip_pt, lt, lc, rc, rt], fill=fill)
    circle(-lobe_x, lobe_y, r)
    circle(lobe_x, lobe_y, r)
