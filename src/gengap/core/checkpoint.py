"""gengap's record beside a checkpoint's weights: ``gengap.json`` (how it was made, the compute spent so far).

Written by every trainer and by the model converter, read by the model loader; plain JSON, no torch.

Every trainer writes ``gengap.json`` into a ``checkpoint-<step>`` folder after everything else in it, so a
folder without it was cut short by a crash: :func:`last_complete_checkpoint` is where a rerun resumes from, and
:func:`discard_after` removes what a crash left beyond it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from gengap.core.io import atomic_write_json

META_FILE = "gengap.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


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


def checkpoint_step(path: str | Path) -> int | None:
    """The step in a ``checkpoint-<step>`` folder's name (``None`` for any other name)."""
    m = _CHECKPOINT.match(Path(path).name)
    return int(m[1]) if m else None


def is_complete(folder: str | Path, required: tuple[str, ...] = ()) -> bool:
    """Whether a checkpoint folder holds its ``gengap.json`` (written last) and the JSON files in ``required``,
    each readable: a crash while one was written leaves it missing or unparsable."""
    for name in (META_FILE, *required):
        try:
            json.loads((Path(folder) / name).read_text())
        except (OSError, ValueError):
            return False
    return True


def last_complete_checkpoint(out: str | Path, required: tuple[str, ...] = ()) -> Path | None:
    """The complete ``checkpoint-<step>`` folder of ``out`` with the highest step (``None`` when there is none)."""
    out = Path(out)
    found = [(checkpoint_step(p), p) for p in out.glob("checkpoint-*") if p.is_dir()] if out.is_dir() else []
    done = [(step, p) for step, p in found if step is not None and is_complete(p, required)]
    return max(done, key=lambda sp: sp[0])[1] if done else None


def discard_after(out: str | Path, keep: Path | None) -> list[Path]:
    """Delete the ``checkpoint-<n>`` folders of ``out`` after checkpoint ``keep`` (all of them when ``None``): the
    incomplete ones a crash left beyond the last complete one.

    A rerun writes them again; removing them first keeps a half-written folder from ever being mistaken for a
    finished one, and a stray file of the crashed attempt from surviving in the rewritten folder.
    """
    out = Path(out)
    after = (checkpoint_step(keep) or 0) if keep is not None else -1
    gone = []
    for p in out.glob("checkpoint-*") if out.is_dir() else []:
        n = checkpoint_step(p)
        if n is not None and n > after and p.is_dir():
            shutil.rmtree(p)
            gone.append(p)
    return gone
