"""gengap's record beside a checkpoint's weights: ``gengap.json`` (how it was made, the compute spent so far).

Written by every trainer and by the model converter, read by the model loader; plain JSON, no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gengap.core.io import atomic_write_json

META_FILE = "gengap.json"


def read_meta(path: str | Path) -> dict[str, Any]:
    """The record in checkpoint folder ``path`` (``{}`` when it has none)."""
    file = Path(path) / META_FILE
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{file} is not valid JSON ({err}); restore it or delete it") from None


def write_meta(path: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``meta`` into checkpoint folder ``path`` atomically; returns the file."""
    return atomic_write_json(Path(path) / META_FILE, meta)
