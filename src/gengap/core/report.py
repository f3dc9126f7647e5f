"""Tables a user can open: Markdown for reading, CSV for spreadsheets, both written atomically."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gengap.core.io import atomic_write_text


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(no rows)\n"
    cols = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_tables(rows: Sequence[dict[str, Any]], stem: str | Path, title: str = "") -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.csv`` with the same rows."""
    stem = Path(stem)
    md = (f"# {title}\n\n" if title else "") + markdown_table(rows)
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    return (
        atomic_write_text(stem.with_suffix(".md"), md),
        atomic_write_text(stem.with_suffix(".csv"), buf.getvalue()),
    )
