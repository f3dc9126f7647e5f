"""A walkable city: intersections, the streets between them, and named places.

Every source (an OpenStreetMap extract, the reference V-IRL data, the procedural grid) produces the same
:class:`World`: a street graph in local metres whose nodes are intersections or dead ends (chains of
shape points are merged into one street polyline), plus named places with a category. Routes,
observations and street views are computed from it alone, and a world round-trips through JSON so that
building it from an extract is paid once.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

from gengap.core.io import atomic_write_text
from gengap.virl.geometry import Point, distance, polyline_length

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Place:
    """A named place (shop, café, bank…) that can serve as a landmark or as a route's start or end."""

    name: str
    category: str
    xy: Point


@dataclass(frozen=True, slots=True)
class Street:
    """One street segment between two graph nodes; ``points`` run from ``u`` to ``v``."""

    u: int
    v: int
    name: str
    points: tuple[Point, ...]

    @property
    def length(self) -> float:
        return polyline_length(self.points)


@dataclass
class World:
    """A street graph plus places. Build one with a source (:mod:`gengap.virl.sources`) or :func:`load_world`."""

    name: str
    nodes: dict[int, Point]
    streets: list[Street]
    places: list[Place]
    origin: tuple[float, float] | None = None
    """Latitude and longitude of the local origin, for worlds built from real coordinates."""
    attribution: str = ""
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Derived values computed on demand (e.g. the places a route may start at); never saved."""

    # ------------------------------------------------------------------ graph

    @cached_property
    def adjacency(self) -> dict[int, list[tuple[int, int]]]:
        """node → [(neighbour, street index)]."""
        adj: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, s in enumerate(self.streets):
            adj[s.u].append((s.v, i))
            adj[s.v].append((s.u, i))
        return dict(adj)

    def degree(self, node: int) -> int:
        return len(self.adjacency.get(node, ()))

    def street_points(self, a: int, b: int, index: int) -> tuple[Point, ...]:
        """The polyline of street ``index`` oriented from node ``a`` to node ``b``."""
        s = self.streets[index]
        if (s.u, s.v) == (a, b):
            return s.points
        if (s.v, s.u) == (a, b):
            return tuple(reversed(s.points))
        raise ValueError(f"street {index} does not join nodes {a} and {b}")

    def shortest_path(self, a: int, b: int) -> list[tuple[int, int]] | None:
        """Shortest walk from node ``a`` to node ``b`` as [(node, street index used to reach it)], or ``None``.

        All shortest paths from ``a`` are computed once and kept (street graphs have a few hundred intersections),
        so drawing many routes costs dictionary look-ups.
        """
        import networkx as nx

        if a not in self.nodes:
            return None
        tree = self.memo.setdefault("paths", {}).get(a)
        if tree is None:
            tree = self.memo["paths"][a] = nx.single_source_dijkstra_path(self.graph, a, weight="length")
        nodes = tree.get(b)
        if nodes is None:
            return None
        out = [(nodes[0], -1)]
        for u, v in pairwise(nodes):
            out.append((v, self.graph.edges[u, v]["street"]))
        return out

    @cached_property
    def graph(self) -> Any:
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(self.nodes)
        for i, s in enumerate(self.streets):
            g.add_edge(s.u, s.v, length=s.length, street=i)
        return g

    # ------------------------------------------------------------------ spatial look-ups

    _CELL = 50.0

    @cached_property
    def _node_grid(self) -> dict[tuple[int, int], list[int]]:
        grid: dict[tuple[int, int], list[int]] = defaultdict(list)
        for n, (x, y) in self.nodes.items():
            grid[(int(x // self._CELL), int(y // self._CELL))].append(n)
        return grid

    @cached_property
    def _place_grid(self) -> dict[tuple[int, int], list[int]]:
        grid: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, p in enumerate(self.places):
            grid[(int(p.xy[0] // self._CELL), int(p.xy[1] // self._CELL))].append(i)
        return grid

    def _near(self, grid: dict[tuple[int, int], list[int]], xy: Point, radius: float) -> Iterator[int]:
        cx, cy, r = int(xy[0] // self._CELL), int(xy[1] // self._CELL), math.ceil(radius / self._CELL)
        for i in range(cx - r, cx + r + 1):
            for j in range(cy - r, cy + r + 1):
                yield from grid.get((i, j), ())

    def places_near(self, xy: Point, radius: float) -> list[tuple[float, Place]]:
        """Places within ``radius`` metres, nearest first (ties by name, so the order is stable)."""
        found = []
        for i in self._near(self._place_grid, xy, radius):
            d = distance(xy, self.places[i].xy)
            if d <= radius:
                found.append((d, self.places[i]))
        return sorted(found, key=lambda t: (t[0], t[1].name))

    def nearest_node(self, xy: Point, radius: float = 60.0) -> tuple[int, float] | None:
        best: tuple[int, float] | None = None
        for n in self._near(self._node_grid, xy, radius):
            d = distance(xy, self.nodes[n])
            if d <= radius and (best is None or d < best[1] or (d == best[1] and n < best[0])):
                best = (n, d)
        return best

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.nodes.values()]
        ys = [p[1] for p in self.nodes.values()]
        return min(xs), min(ys), max(xs), max(ys)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "origin": self.origin,
            "attribution": self.attribution,
            "source": self.source,
            "meta": self.meta,
            "nodes": [[n, x, y] for n, (x, y) in self.nodes.items()],
            "streets": [[s.u, s.v, s.name, [list(p) for p in s.points]] for s in self.streets],
            "places": [[p.name, p.category, p.xy[0], p.xy[1]] for p in self.places],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> World:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"world file format {data.get('format')!r} is not {FORMAT_VERSION}; rebuild it")
        return cls(
            name=data["name"],
            nodes={int(n): (float(x), float(y)) for n, x, y in data["nodes"]},
            streets=[
                Street(int(u), int(v), name, tuple((float(x), float(y)) for x, y in pts))
                for u, v, name, pts in data["streets"]
            ],
            places=[Place(name, cat, (float(x), float(y))) for name, cat, x, y in data["places"]],
            origin=tuple(data["origin"]) if data.get("origin") else None,
            attribution=data.get("attribution", ""),
            source=data.get("source", ""),
            meta=data.get("meta", {}),
        )

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> World:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"cannot read world file {path}: {err}; delete it to rebuild") from err


def build_world(
    name: str,
    segments: Iterable[tuple[int, int, str, Sequence[Point]]],
    places: Iterable[Place],
    *,
    origin: tuple[float, float] | None = None,
    attribution: str = "",
    source: str = "",
) -> World:
    """A world from raw street segments (split at every shape point, as map data comes).

    Keeps the largest connected part of the network, merges chains of degree-2 nodes into one street
    (so every node is an intersection or a dead end), and drops loops and duplicate links (the shorter stays).
    """
    import networkx as nx

    raw = nx.Graph()
    for u, v, street_name, pts in segments:
        # Coordinates are kept to the centimetre, as saved: a world read back from its cache file must give the
        # same routes as the one just built (ties between equal-length walks would break differently).
        pts = [(round(x, 2), round(y, 2)) for x, y in pts]
        if u == v or len(pts) < 2:
            continue
        length = polyline_length(pts)
        if raw.has_edge(u, v) and raw.edges[u, v]["length"] <= length:
            continue
        raw.add_edge(u, v, length=length, name=street_name or "", points=tuple(pts), start=u)
    if raw.number_of_nodes() == 0:
        raise ValueError(f"world {name!r} has no walkable streets")
    main = max(nx.connected_components(raw), key=len)
    raw = raw.subgraph(main).copy()

    def oriented(a: int, b: int) -> list[Point]:
        e = raw.edges[a, b]
        return list(e["points"]) if e["start"] == a else list(reversed(e["points"]))

    keep = {n for n in raw.nodes if raw.degree(n) != 2}
    if not keep:  # a pure ring: keep one node to cut it
        keep = {min(raw.nodes)}
    positions: dict[int, Point] = {}
    streets: dict[tuple[int, int], Street] = {}
    seen: set[frozenset[int]] = set()
    for start in sorted(keep):
        for nxt in sorted(raw.neighbors(start)):
            if frozenset((start, nxt)) in seen:
                continue
            chain, names = [start, nxt], Counter([raw.edges[start, nxt]["name"]])
            pts = oriented(start, nxt)
            seen.add(frozenset((start, nxt)))
            while chain[-1] not in keep:
                prev, cur = chain[-2], chain[-1]
                step = next(n for n in raw.neighbors(cur) if n != prev)
                seen.add(frozenset((cur, step)))
                names[raw.edges[cur, step]["name"]] += 1
                pts.extend(oriented(cur, step)[1:])
                chain.append(step)
            end = chain[-1]
            if end == start:
                continue
            named = [n for n, _ in names.most_common() if n]
            street = Street(start, end, named[0] if named else "", tuple(pts))
            key = (min(start, end), max(start, end))
            if key not in streets or street.length < streets[key].length:
                streets[key] = street
            positions[start], positions[end] = pts[0], pts[-1]
    return World(
        name=name,
        nodes=dict(sorted(positions.items())),
        streets=[streets[k] for k in sorted(streets)],
        places=sorted(
            (Place(p.name, p.category, (round(p.xy[0], 2), round(p.xy[1], 2))) for p in places),
            key=lambda p: (p.name, p.xy),
        ),
        origin=origin,
        attribution=attribution,
        source=source,
    )
