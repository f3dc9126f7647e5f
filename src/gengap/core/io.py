"""Files that survive interruptions: atomic writes and append-only JSON lines that a rerun can resume from."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` so that ``path`` holds either the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON-lines file; a torn last line (the run was killed mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def guard_settings(path: str | Path, settings: dict[str, Any]) -> None:
    """Record the settings a results file was made with; refuse to add to it under different settings.

    Resuming only makes sense for the same run: rows made with another seed, budget or checkpoint would be
    silently mixed with the new ones otherwise.
    """
    path = Path(path)
    canonical = json.loads(json.dumps(settings))
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except json.JSONDecodeError:
            before = None
        if before != canonical:
            changed = sorted(k for k in set(canonical) | set(before or {}) if (before or {}).get(k) != canonical.get(k))
            raise ValueError(
                f"{path.parent} holds results made with other settings (differing: {', '.join(changed)}); "
                "use a new output folder or delete this one"
            )
    else:
        atomic_write_json(path, canonical)


class JsonlAppender:
    """Append rows one at a time, flushed each time, after dropping a torn last line left by a crash."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = list(read_jsonl(self.path))
        if self.path.exists():
            atomic_write_text(self.path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self._f = self.path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
