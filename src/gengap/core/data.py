"""Expert data files of any game as Hugging Face datasets (``datasets`` is imported only when one is loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_dataset(path: str | Path) -> Any:
    """A JSON-lines data file (``gengap data``) as a :class:`datasets.Dataset`; an ``images`` column of paths
    relative to the file is decoded to PIL images, as TRL's vision-language trainers expect."""
    import datasets

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}; write one with `gengap data --out {path}`")
    ds = datasets.Dataset.from_json(str(path))
    if "images" in ds.column_names:
        base = path.parent.resolve()
        ds = ds.map(lambda row: {"images": [str(base / p) for p in row["images"]]})
        ds = ds.cast_column("images", datasets.List(datasets.Image()))
    return ds
