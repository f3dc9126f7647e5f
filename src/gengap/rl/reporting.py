"""What a PPO run reports each update: a row of ``log.jsonl`` and the same numbers to the trackers it names."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from gengap.core.io import JsonlAppender, atomic_write_text, read_jsonl

LOG_FILE = "log.jsonl"


class Reporters:
    """The trackers ``report_to`` names (``tensorboard``, ``wandb``, comma-separated), behind one ``log``."""

    def __init__(self, out: Path, report_to: str, config: dict[str, Any]) -> None:
        names = {n.strip() for n in report_to.split(",")} - {"", "none"}
        unknown = names - {"tensorboard", "wandb"}
        if unknown:
            raise ValueError(f"--report-to takes none, tensorboard, wandb (comma-separated); got {sorted(unknown)}")
        self.tensorboard = self.wandb = None
        if "tensorboard" in names:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ValueError(
                    "--report-to tensorboard needs the tensorboard package: pip install tensorboard"
                ) from err
            self.tensorboard = SummaryWriter(str(out / "tensorboard"))
        if "wandb" in names:
            try:
                import wandb
            except ImportError as err:
                raise ValueError("--report-to wandb needs the wandb package: pip install wandb") from err
            # One run per output folder: a resumed PPO run continues its wandb run instead of starting another.
            self.wandb = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "gengap"),
                name=out.name,
                id=f"gengap-{hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]}",
                resume="allow",
                dir=str(out),
                config=config,
            )

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.tensorboard is not None:
            for k, v in metrics.items():
                self.tensorboard.add_scalar(k, v, step)
        if self.wandb is not None:
            self.wandb.log(metrics, step=step)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()


def reporters(out: Path, report_to: str, config: dict[str, Any]) -> Reporters | None:
    """The trackers ``report_to`` names, or ``None`` for none."""
    found = Reporters(out, report_to, config)
    return found if found.tensorboard is not None or found.wandb is not None else None


def drop_later_updates(path: Path, update: int) -> None:
    """Keep the rows of ``path`` up to ``update``: a run resumed from checkpoint ``update`` logs the rest again."""
    if not path.exists():
        return
    rows = list(read_jsonl(path))
    kept = [r for r in rows if int(r.get("update", 0)) <= update]
    if len(kept) != len(rows):
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))


class RunLog:
    """``log.jsonl`` (exactly one row per update, also across resumes) and the trackers; for the main process."""

    def __init__(self, out: Path, *, report_to: str, config: dict[str, Any], resumed_at: int) -> None:
        self.trackers = reporters(out, report_to, config)
        drop_later_updates(out / LOG_FILE, resumed_at)
        self.rows = JsonlAppender(out / LOG_FILE)

    def write(self, row: dict[str, Any]) -> None:
        """Append ``row`` (keyed by its ``update``) and send its numbers to the trackers."""
        self.rows.write(row)
        if self.trackers is not None:
            self.trackers.log({k: v for k, v in row.items() if isinstance(v, int | float)}, row["update"])

    def last_row(self) -> dict[str, Any]:
        """The row of the latest update logged (``{}`` for none): what a run that had nothing left to do returns."""
        return max(read_jsonl(self.rows.path), key=lambda r: int(r.get("update", 0)), default={})

    def close(self) -> None:
        self.rows.close()
        if self.trackers is not None:
            self.trackers.close()
