"""Files that survive interruptions: atomic writes and append-only JSON lines that a rerun can resume from."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
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


OUTPUT_KEYS = frozenset({"out", "output_dir", "logging_dir"})
"""Where a run writes is never one of its settings: a renamed or moved run folder still resumes."""

_ABSENT = object()


def guard_settings(
    path: str | Path,
    settings: dict[str, Any],
    *,
    results: str | Path | None = None,
    flag: str | None = None,
) -> None:
    """Record the settings a results file was made with; refuse to add to it under different settings.

    Resuming only makes sense for the same run: rows made with another seed, budget or checkpoint would be
    silently mixed with the new ones otherwise. Nested settings are compared leaf by leaf, and the refusal is one
    line naming the file and each differing field with its old and new value. Output locations
    (:data:`OUTPUT_KEYS`, at any depth) are never settings.

    ``results``: the file (or folder) the settings describe. While it holds nothing (a run stopped before its
    first row) the settings are simply rewritten; when it holds rows but the settings file is missing, nothing
    says how the rows were made, and that is refused too. ``flag``: the option naming a new output location in
    the refusal (``--out``); by default the refusal speaks of "a new output".
    """
    path = Path(path)
    canonical = _without_outputs(json.loads(json.dumps(settings)))
    fresh = results is not None and not _holds_anything(Path(results), besides=path)
    if path.is_file() and not fresh:
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            before = None
        if not isinstance(before, dict):
            raise ValueError(f"{path} is not a settings file gengap wrote (not a JSON object); delete it to start over")
        diffs = setting_differences(_without_outputs(before), canonical)
        if diffs:
            raise ValueError(
                f"{path} was made with other settings: {describe_differences(diffs)}; {_fix(flag, results)}"
            )
        if before != canonical:  # only output locations differ (an older file recorded them): forget them
            atomic_write_json(path, canonical)
        return
    if results is not None and not fresh:
        raise ValueError(
            f"{results} holds results but {path}, which records how they were made, is missing; "
            f"{_fix(flag, results)} to start over"
        )
    atomic_write_json(path, canonical)


def _fix(flag: str | None, results: str | Path | None) -> str:
    """How to get past a refusal: elsewhere, or start over (deleting the results frees the settings too)."""
    return f"use a new {flag or 'output'} or delete {results if results is not None else 'the file'}"


def _holds_anything(results: Path, besides: Path) -> bool:
    if results.is_dir():
        return any(p != besides for p in results.iterdir())
    return results.is_file() and any(True for _ in read_jsonl(results))


def _without_outputs(settings: Any) -> Any:
    if isinstance(settings, dict):
        return {k: _without_outputs(v) for k, v in settings.items() if k not in OUTPUT_KEYS}
    return settings


def setting_differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(name, old, new)`` for every setting that differs, nested settings compared leaf by leaf.

    A setting absent on one side has the value ``None`` there. A nested setting that carries a ``name`` (a
    split) differs by its name when the names differ, rather than by each of its fields. ``name`` is the
    shortest trailing part of the setting's dotted path that no other setting shares (``seed``, ``split``,
    ``rewards.correct``), so the user can find it among the flags.
    """
    paths: list[tuple[str, ...]] = []
    _collect_paths(old, (), paths)
    _collect_paths(new, (), paths)
    return [(_label(p, paths), a, b) for p, a, b in _diff(old, new, ())]


def _diff(old: dict[str, Any], new: dict[str, Any], at: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any, Any]]:
    out = []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if a == b:
            continue
        path = (*at, key)
        if isinstance(a, dict) and isinstance(b, dict):
            if "name" in a and "name" in b and a["name"] != b["name"]:
                out.append((path, a["name"], b["name"]))
            else:
                out.extend(_diff(a, b, path))
        else:
            out.append((path, None if a is _ABSENT else a, None if b is _ABSENT else b))
    return out


def _collect_paths(tree: Any, at: tuple[str, ...], into: list[tuple[str, ...]]) -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            into.append((*at, key))
            _collect_paths(value, (*at, key), into)


def _label(path: tuple[str, ...], paths: list[tuple[str, ...]]) -> str:
    others = {p for p in paths if p != path}
    for n in range(1, len(path) + 1):
        tail = path[-n:]
        if not any(p[-n:] == tail for p in others):
            return ".".join(tail)
    return ".".join(path)


def describe_differences(diffs: list[tuple[str, Any, Any]]) -> str:
    """``seed=0, not seed=1 (and split='id', not 'ood-rule')``: the first difference in full, the others after."""
    name, old, new = diffs[0]
    text = f"{name}={_show(old)}, not {name}={_show(new)}"
    if len(diffs) > 1:
        rest = "; ".join(f"{n}={_show(a)}, not {_show(b)}" for n, a, b in diffs[1:])
        text += f" (and {rest})"
    return text


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class JsonlAppender:
    """Append rows one at a time, flushed each time, after dropping a torn last line left by a crash."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            text = jsonl_text(read_jsonl(self.path))
            if self.path.read_text(encoding="utf-8") != text:
                atomic_write_text(self.path, text)
        self._f = self.path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append ``rows`` in one write (a crash cuts them short far less often than row by row)."""
        self._f.write(jsonl_text(rows))
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def jsonl_text(rows: Iterable[dict[str, Any]]) -> str:
    """The exact text :class:`JsonlAppender` writes for ``rows`` (so a rewritten file equals an appended one)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def keep_complete_units(
    path: str | Path,
    n: int,
    complete: Callable[[int, list[dict[str, Any]], bool], bool],
    *,
    unit: str = "examples",
) -> int:
    """Cut an indexed JSON-lines file back to its longest run of complete units ``0, 1, 2, …``; return how many.

    Every row carries ``index``, the unit (an example, a route) it belongs to, and a writer appends the units in
    order, each after the one before is whole. So after a crash the file is such a run followed by at most one
    unit cut short (and a torn line). ``complete(k, rows, last)`` judges the rows found for unit ``k`` by their
    content (``last``: they end the file, where a crash may have cut them short); it may raise a one-line
    :class:`ValueError` for rows that this version would never write there. Everything from the first unit that
    is missing, out of place or incomplete on is dropped (the file is rewritten atomically), so appending units
    ``m, m + 1, …`` gives exactly the file an uninterrupted run writes: same rows, same order, nothing twice.

    A file holding units at or beyond ``n`` is refused: cutting it down to the ``n`` asked for would silently
    discard finished work, and keeping them would make a file of a size nobody asked for.
    """
    path = Path(path)
    rows = list(read_jsonl(path))
    indices = {row.get("index") for row in rows}
    if any(not isinstance(i, int) or isinstance(i, bool) or i < 0 for i in indices):
        raise ValueError(f"{path} holds rows without a valid index (not written by gengap); write to a new --out")
    if indices and max(indices) >= n:
        have = len(indices)
        raise ValueError(
            f"{path} already holds {have} {unit}, more than the {n} asked for; ask for --n {max(indices) + 1} or "
            "more to resume it, or write to a new --out"
        )
    groups: list[tuple[int, list[dict[str, Any]]]] = []
    for row in rows:
        if groups and groups[-1][0] == row["index"]:
            groups[-1][1].append(row)
        else:
            groups.append((row["index"], [row]))
    kept = 0
    for k, (index, group) in enumerate(groups):
        if index != k or not complete(k, group, k == len(groups) - 1):
            break
        kept += 1
    text = jsonl_text(row for _, group in groups[:kept] for row in group)
    if path.exists() and path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return kept
