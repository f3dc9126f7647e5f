"""Where gengap keeps what it builds once and reuses: base models, converted checkpoints, city worlds."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$GENGAP_CACHE``, default ``~/.cache/gengap``."""
    return Path(os.environ.get("GENGAP_CACHE", Path.home() / ".cache" / "gengap"))
