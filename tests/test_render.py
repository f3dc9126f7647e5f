"""Tests for the card-table renderer: geometry, colours, legibility proxies, determinism and atomic saving.

Pixel checks use numpy masks rather than golden images, so they survive small drawing tweaks but still fail
when the layout, the colours or the rank drawing are wrong.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from gengap.gp.cards import RANKS, Hand
from gengap.gp.render import (
    BLACK,
    FELT,
    RED,
    _card_face,
    card_boxes,
    render_card,
    render_table,
    save_png,
)

SUITS4 = ("spades", "hearts", "clubs", "diamonds")


def _hand(n: int, suits: tuple[str, ...] = SUITS4) -> Hand:
    ranks = tuple(RANKS[(3 * i + 9) % 13] for i in range(n))  # includes "10", "K", "3", …
    return Hand(ranks, tuple(suits[i % len(suits)] for i in range(n)))


def _arr(img: Image.Image) -> np.ndarray:
    """Pixels as int16 RGB; a card (RGBA) is first laid on white so its transparent corners read as paper."""
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
    return np.asarray(img.convert("RGB")).astype(np.int16)


def _not_felt(a: np.ndarray, tol: int = 6) -> np.ndarray:
    return np.abs(a - np.array(FELT)).max(axis=-1) > tol


def _reddish(a: np.ndarray) -> np.ndarray:
    return (a[..., 0] > 150) & (a[..., 1] < 80) & (a[..., 2] < 80)


def _dark(a: np.ndarray) -> np.ndarray:
    return a.max(axis=-1) < 70


def _expected_card(n: int, size: int) -> tuple[float, float]:
    """Card width and height from the spec, computed independently of :func:`card_boxes`."""
    w = 0.9 * size / n
    h = w * 7 / 5
    if h > 0.9 * size:  # a lone card is capped to 90 % of the table height
        h = 0.9 * size
        w = h * 5 / 7
    return w, h


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Start/stop (exclusive) of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


# ------------------------------------------------------------------------------------------------ geometry


@pytest.mark.parametrize("size", [64, 224, 1200])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_table_has_requested_size_and_mode(size: int, n: int) -> None:
    img = render_table(_hand(n), size=size)
    assert img.size == (size, size)
    assert img.mode == "RGB"


def test_large_table() -> None:
    img = render_table(_hand(6), size=2000)
    assert img.size == (2000, 2000)
    assert _not_felt(_arr(img)).any()


def test_default_size_is_1200() -> None:
    assert render_table(_hand(4)).size == (1200, 1200)


@pytest.mark.parametrize("size", [224, 1200])
@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_felt_everywhere_outside_cards(size: int, n: int) -> None:
    """Corners are pure felt, and so is everything off the cards: no text or marks on the table."""
    a = _arr(render_table(_hand(n), size=size))
    c = max(2, size // 20)
    for patch in (a[:c, :c], a[:c, -c:], a[-c:, :c], a[-c:, -c:]):
        assert (patch == np.array(FELT)).all()
    off_card = np.ones(a.shape[:2], dtype=bool)
    for left, top, right, bottom in card_boxes(n, size):
        off_card[max(0, top - 1) : bottom + 1, max(0, left - 1) : right + 1] = False
    assert (a[off_card] == np.array(FELT)).all()


@pytest.mark.parametrize(("n", "size"), [(1, 400), (2, 600), (4, 1200), (4, 224), (5, 1000), (6, 300)])
def test_layout_matches_spec(n: int, size: int) -> None:
    """Card width 0.9*size/n, 5:7 aspect, equal gaps, vertically centred; measured from the pixels."""
    a = _arr(render_table(_hand(n), size=size))
    mask = _not_felt(a)
    w, h = _expected_card(n, size)

    col_runs = _runs(mask.any(axis=0))
    assert len(col_runs) == n
    for start, stop in col_runs:
        assert abs((stop - start) - w) <= 1.5
    inner = [b[0] - a_[1] for a_, b in itertools.pairwise(col_runs)]
    gaps = [col_runs[0][0], *inner, size - col_runs[-1][1]]
    assert max(gaps) - min(gaps) <= 2
    assert abs(gaps[0] - (size - n * w) / (n + 1)) <= 1.5

    (top, bottom), *rest = _runs(mask.any(axis=1))
    assert not rest
    assert abs((bottom - top) - h) <= 1.5
    assert abs(top - (size - bottom)) <= 1  # centred

    # Area: n rounded rectangles of w × h (rounded corners lose well under 1 %).
    frac = mask.mean()
    expected = n * w * h / size**2
    assert expected * 0.98 <= frac <= expected * 1.01


def test_card_boxes_agree_with_spec() -> None:
    for n in range(1, 7):
        for size in (64, 224, 1200, 2000):
            boxes = card_boxes(n, size)
            w, h = _expected_card(n, size)
            assert len(boxes) == n
            for left, top, right, bottom in boxes:
                assert abs((right - left) - w) <= 0.5
                assert abs((bottom - top) - h) <= 1.5
                assert 0 <= left < right <= size and 0 <= top < bottom <= size
            lefts = [b[0] for b in boxes]
            assert lefts == sorted(lefts)


def test_empty_hand_rejected() -> None:
    with pytest.raises(ValueError):
        render_table(Hand((), ()), size=224)


# ------------------------------------------------------------------------------------------------ colours


@pytest.mark.parametrize("size", [224, 1200])
def test_red_suits_are_red_and_black_suits_are_not(size: int) -> None:
    red = _arr(render_table(_hand(4, ("hearts", "diamonds")), size=size))
    black = _arr(render_table(_hand(4, ("spades", "clubs")), size=size))
    assert _reddish(red).mean() > 0.01  # suits + ranks: a few % of the table
    assert _reddish(black).sum() == 0


@pytest.mark.parametrize("size", [224, 1200])
def test_black_suits_have_dark_ink_on_the_cards(size: int) -> None:
    n = 4
    black = _arr(render_table(_hand(n, ("spades", "clubs")), size=size))
    red = _arr(render_table(_hand(n, ("hearts", "diamonds")), size=size))
    for left, top, right, bottom in card_boxes(n, size):
        card_black = _dark(black[top:bottom, left:right])
        card_red = _dark(red[top:bottom, left:right])
        assert card_black.mean() > 0.05  # a big pip and a big rank in near-black
        assert card_red.mean() < 0.01  # red cards carry no black ink
    # The dark pixels are the ink colour, not just "some dark colour".
    assert (np.abs(black[_dark(black)] - np.array(BLACK)).max(axis=-1) <= 45).mean() > 0.5


def test_card_colours_match_constants() -> None:
    """The most common ink pixels are exactly the exported RED / BLACK (interior of large shapes)."""
    for suit, ink in (("hearts", RED), ("spades", BLACK)):
        a = _arr(render_card("8", suit, 200)).reshape(-1, 3)
        assert (a == np.array(ink)).all(axis=-1).mean() > 0.05


# ------------------------------------------------------------------------------------------------ cards


@pytest.mark.parametrize("width", [10, 50, 270, 900])
def test_render_card_size_and_transparent_corners(width: int) -> None:
    card = render_card("Q", "hearts", width)
    assert card.mode == "RGBA"
    assert card.size == (width, round(width * 7 / 5))
    alpha = np.asarray(card)[..., 3]
    if width >= 50:
        assert alpha[0, 0] == 0 and alpha[-1, -1] == 0  # rounded corners
    assert alpha[alpha.shape[0] // 2, width // 2] == 255


def test_render_card_returns_independent_copy() -> None:
    first = render_card("7", "clubs", 120)
    first.paste((0, 255, 0, 255), (0, 0, 120, 168))
    again = render_card("7", "clubs", 120)
    assert not (np.asarray(again)[..., 1] == 255).all()


@pytest.mark.parametrize("width", [50, 160])
def test_different_ranks_give_different_images(width: int) -> None:
    faces = {r: np.asarray(render_card(r, "spades", width)) for r in RANKS}
    for i, r1 in enumerate(RANKS):
        for r2 in RANKS[i + 1 :]:
            assert not np.array_equal(faces[r1], faces[r2]), (r1, r2)
    # They differ in the top-left corner (where the rank is), not only somewhere.
    corner = slice(0, int(width * 0.45))
    a, b = faces["6"][corner, corner], faces["9"][corner, corner]
    assert np.abs(a.astype(int) - b.astype(int)).max() > 100


def test_different_suits_give_different_images() -> None:
    faces = [np.asarray(render_card("5", s, 100)) for s in SUITS4]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(faces[i], faces[j])


def test_table_changes_with_rank() -> None:
    a = render_table(Hand(("A", "2", "3", "4"), SUITS4), size=224)
    b = render_table(Hand(("A", "2", "3", "5"), SUITS4), size=224)
    assert a.tobytes() != b.tobytes()


@pytest.mark.parametrize("width", [100, 270])
def test_rank_is_big_and_ten_fits_in_the_corner(width: int) -> None:
    """The rank is ~1/3 of the card width tall, and "10" stays in the left half, clear of the big pip."""
    for rank in ("10", "A", "K", "Q"):
        a = _arr(render_card(rank, "spades", width))
        ink = _dark(a[: int(0.7 * width), :])
        # From the top, the first band of inked rows is the rank; the small pip below it is a separate band.
        top, bottom = _runs(ink.any(axis=1))[0]
        assert 0.28 * width <= bottom - top <= 0.40 * width, (rank, bottom - top)
        cols = np.flatnonzero(ink[top:bottom].any(axis=0))
        assert cols[0] > 0.02 * width, rank  # inside the card, not on its edge
        assert cols[-1] < 0.5 * width, rank


@pytest.mark.parametrize("suit", SUITS4)
def test_pip_is_centred(suit: str) -> None:
    width = 200
    a = _arr(render_card("A", suit, width))
    height = a.shape[0]
    ink = _dark(a) | _reddish(a)
    # Below the corner index, the ink is the big pip: it must sit around the card centre.
    below = ink.copy()
    below[: int(0.62 * width), :] = False
    ys, xs = np.nonzero(below)
    assert abs(xs.mean() - width / 2) < 0.06 * width
    assert abs(ys.mean() - height / 2) < 0.08 * height


def test_bad_card_inputs() -> None:
    with pytest.raises(ValueError):
        render_card("1", "spades", 100)
    with pytest.raises(ValueError):
        render_card("A", "stars", 100)
    with pytest.raises(ValueError):
        render_card("A", "spades", 0)


# ------------------------------------------------------------------------------------------------ determinism


def test_rendering_is_deterministic() -> None:
    hand = Hand(("10", "J", "Q", "K"), SUITS4)
    first = render_table(hand, size=300).tobytes()
    assert render_table(hand, size=300).tobytes() == first  # warm cache
    _card_face.cache_clear()
    assert render_table(hand, size=300).tobytes() == first  # redrawn from scratch


# ------------------------------------------------------------------------------------------------ saving


def test_save_png_roundtrip(tmp_path) -> None:
    img = render_table(_hand(4), size=224)
    path = tmp_path / "a" / "b" / "table.png"
    returned = save_png(img, path)
    assert returned == path
    with Image.open(path) as loaded:
        assert loaded.format == "PNG"
        assert loaded.size == (224, 224)
        assert loaded.convert("RGB").tobytes() == img.tobytes()
    # Overwriting works and leaves no temporary files behind.
    other = render_table(_hand(2), size=64)
    save_png(other, str(path))
    with Image.open(path) as loaded:
        assert loaded.size == (64, 64)
    assert [p.name for p in path.parent.iterdir()] == ["table.png"]


def test_save_png_cleans_up_on_failure(tmp_path) -> None:
    class Broken:
        def save(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError):
        save_png(Broken(), tmp_path / "x.png")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
