"""Worlds from data in the reference V-IRL format, for users who have it (we never download it).

A reference folder holds:

* ``route_infos.json``: route records (either a list, or ``[list, next_index]`` as the collection tool
  writes it). Each record has ``start_place`` and ``dest_place`` (``name``, ``geocode`` as ``[lat, lng]``,
  optionally ``relocated_geocode`` on the street), ``route_results`` with ``geocode_list`` (the milestones, i.e.
  the intersections walked through) and ``landmark_list`` (a place or ``null`` per milestone), and the
  reference's own ``instruction`` text;
* ``gps_pano_mapping.pkl``: a dict from ``(lat, lng)`` to a panorama id (read with a restricted unpickler
  that only builds plain containers, so a data file cannot run code);
* ``street_views/<pano>.jpg``: equirectangular panoramas, with ``<pano>.metadata.json`` whose ``heading``
  (or ``north_rotation``) says which bearing the panorama's centre column faces.

The world's streets are the walked milestone-to-milestone segments of all records, its places the starts,
destinations and landmarks. A game whose world is such a folder replays the listed routes themselves, in record
order (:mod:`gengap.virl.replay`: the paper evaluates on them); their instructions and expert actions are computed
by our own code from each record's walk. When panoramas are present, V-IRL-VL views are crops of the nearest
panorama instead of drawings.
"""

from __future__ import annotations

import io
import json
import pickle
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

from gengap.virl.geometry import Projection
from gengap.virl.world import Place, World, build_world


class _PlainUnpickler(pickle.Unpickler):
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "str", "float", "int")
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a GPS-to-panorama mapping")


def load_pano_mapping(path: Path) -> dict[tuple[float, float], str]:
    if not path.is_file():
        return {}
    try:
        raw = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise ValueError(f"cannot read {path}: {err}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{path} should hold a dict from (lat, lng) to panorama id")
    return {(float(k[0]), float(k[1])): str(v) for k, v in raw.items()}


def read_records(folder: Path) -> list[dict[str, Any]]:
    path = folder / "route_infos.json"
    if not path.is_file():
        raise FileNotFoundError(f"no route_infos.json in {folder}; is this a reference V-IRL data folder?")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if isinstance(data, list) and len(data) == 2 and isinstance(data[0], list) and isinstance(data[1], int):
        data = data[0]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{path} should hold a list of route records")
    for i, r in enumerate(data):
        for key in ("start_place", "dest_place", "route_results"):
            if key not in r:
                raise ValueError(f"route record {i} in {path} has no {key!r}")
    return data


def _geocode(place: dict[str, Any]) -> tuple[float, float]:
    g = place.get("relocated_geocode") or place.get("geocode")
    if g is None or len(g) != 2:
        raise ValueError(f"place {place.get('name')!r} has no geocode")
    return float(g[0]), float(g[1])


def reference_world(folder: str | Path) -> World:
    folder = Path(folder)
    records = read_records(folder)
    points = [_geocode(r["start_place"]) for r in records]
    points += [tuple(map(float, g)) for r in records for g in r["route_results"].get("geocode_list", [])]
    proj = Projection(sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
    ids: dict[tuple[float, float], int] = {}

    def node(g: tuple[float, float]) -> int:
        key = (round(g[0], 6), round(g[1], 6))
        return ids.setdefault(key, len(ids))

    segments, places = [], {}
    for r in records:
        walk = [_geocode(r["start_place"])] + [tuple(map(float, g)) for g in r["route_results"].get("geocode_list", [])]
        for a, b in pairwise(walk):
            if node(a) != node(b):
                segments.append((node(a), node(b), "", [proj.to_xy(*a), proj.to_xy(*b)]))
        named = [r["start_place"], r["dest_place"]] + [p for p in r["route_results"].get("landmark_list", []) if p]
        for p in named:
            if p.get("name"):
                lat, lng = float(p["geocode"][0]), float(p["geocode"][1])
                types = p.get("place_types") or ["place"]
                places[p["name"]] = Place(p["name"], str(types[0]), proj.to_xy(lat, lng))
    world = build_world(folder.name, segments, places.values(), origin=(proj.lat0, proj.lon0), source=str(folder))
    mapping = load_pano_mapping(folder / "gps_pano_mapping.pkl")
    if mapping and (folder / "street_views").is_dir():
        world.meta["panoramas"] = {
            "folder": str(folder / "street_views"),
            "points": [[*proj.to_xy(lat, lng), pano] for (lat, lng), pano in sorted(mapping.items())],
        }
    return world


def panorama_views(world: World, xy: tuple[float, float], heading: float, tile: int) -> list[Any] | None:
    """Four views (front, right, back, left) cropped from the panorama nearest to ``xy``, or ``None``."""
    from PIL import Image

    panos = world.meta.get("panoramas")
    if not panos:
        return None
    _, _, pano = min(panos["points"], key=lambda p: (p[0] - xy[0]) ** 2 + (p[1] - xy[1]) ** 2)
    folder = Path(panos["folder"])
    image_path = folder / f"{pano}.jpg"
    if not image_path.is_file():
        return None
    meta_path = folder / f"{pano}.metadata.json"
    centre = 0.0
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        centre = float(meta.get("heading", meta.get("north_rotation", 0.0)))
    pano_img = Image.open(image_path).convert("RGB")
    w, h = pano_img.size
    # Tile the panorama twice side by side so a 90° crop never wraps.
    wide = Image.new("RGB", (2 * w, h))
    wide.paste(pano_img, (0, 0))
    wide.paste(pano_img, (w, 0))
    views = []
    for k in range(4):
        b = (heading + 90.0 * k - centre) % 360.0
        cx = (0.5 + b / 360.0) * w % w
        left = int(cx - w / 8) % w
        crop = wide.crop((left, h // 4, left + w // 4, 3 * h // 4))
        views.append(crop.resize((tile, tile)))
    return views
