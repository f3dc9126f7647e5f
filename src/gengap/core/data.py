"""Expert data files of any game as Hugging Face datasets (``datasets`` is imported only when one is loaded).

A file is checked row by row before ``datasets`` reads it, so that a file cut short, an empty one, or
conversations with nothing to learn from fail in one line naming the file and the line, not in a parser's
traceback after the model has loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")
"""Chat roles a conversation row may hold; the loss is on ``assistant`` turns, so each row needs one."""


def load_dataset(path: str | Path) -> Any:
    """A JSON-lines data file (``gengap data``) as a :class:`datasets.Dataset`; an ``images`` column of paths
    relative to the file is decoded to PIL images, as TRL's vision-language trainers expect."""
    path = Path(path)
    check_data_file(path)
    import datasets

    ds = datasets.Dataset.from_json(str(path))
    if "images" in ds.column_names:
        base = path.parent.resolve()
        ds = ds.map(lambda row: {"images": [str(base / p) for p in row["images"]]})
        ds = ds.cast_column("images", datasets.List(datasets.Image()))
    return ds


def check_data_file(path: str | Path) -> int:
    """Check a JSON-lines data file and return its number of rows; :class:`ValueError` (or
    :class:`FileNotFoundError`) in one line naming the file, the line and what to fix otherwise.

    Every line must be a JSON object (a last line cut off means the writer was interrupted: rerunning
    ``gengap data`` with the same flags completes it); the file must hold at least one row; a row with
    ``messages`` is a conversation (:func:`check_conversation`); its ``images`` must exist beside the file.
    """
    path = Path(path)
    hint = f"write it with `gengap data --out {path}`"
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass a JSON-lines data file (.jsonl)")
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}; {hint}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file; pass a JSON-lines data file from `gengap data`") from None
    rows = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            cut = number == len(lines) and not path.read_bytes().endswith(b"\n")
            if cut:
                raise ValueError(
                    f"{path}, line {number} is cut off (an interrupted write?); rerun the `gengap data` command "
                    "that wrote it to complete it, or delete that line"
                ) from None
            raise ValueError(f"{path}, line {number} is not valid JSON ({err.msg}); fix or delete that line") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {number} is not a JSON object ({{...}}); each line is one example")
        if "messages" in row:
            problem = check_conversation(row["messages"])
            if problem:
                raise ValueError(f"{path}, line {number}: {problem}")
        for image in row.get("images") or []:
            if not isinstance(image, str) or not (path.parent / image).is_file():
                raise ValueError(f"{path}, line {number}: image {image!r} is missing beside the file; {hint}")
        rows += 1
    if rows == 0:
        raise ValueError(f"{path} holds no examples (it is empty); {hint}")
    return rows


def check_conversation(messages: Any) -> str | None:
    """What is wrong with one row's ``messages`` (``None``: nothing): a list of ``{"role", "content"}`` turns in
    :data:`ROLES` with at least one assistant turn that says something (SFT learns only from those)."""
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list of {role, content} turns"
    for turn in messages:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or "content" not in turn:
            return f"every turn needs a role ({', '.join(ROLES)}) and a content, got {str(turn)[:80]!r}"
    if not any(t["role"] == "assistant" and t["content"] for t in messages):
        return "the conversation has no assistant turn, so there is nothing to learn from; add the expert's answers"
    return None
