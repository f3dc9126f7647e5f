"""Two processes on one CPU machine: the SFT command runs unchanged under a distributed launcher.

``accelerate launch --num_processes 2 --cpu`` starts a single process unless MPI is installed (accelerate
1.15), so the CPU recipe is ``torchrun``; accelerate picks up the process group from its environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from gengap.gp import GeneralPoints
from gengap.gp.expert import write_dataset
from gengap.models.tiny import TinyLMConfig, build_tiny_lm

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=256)


def _sft(tmp_path: Path, launcher: list[str], out: str) -> dict:
    cmd = [
        *launcher,
        "-m",
        "gengap.cli",
        "sft",
        "--model",
        str(tmp_path / "base"),
        "--data",
        str(tmp_path / "d.jsonl"),
        "--output-dir",
        str(tmp_path / out),
        "--max-steps",
        "4",
        "--save-steps",
        "2",
        "--per-device-train-batch-size",
        "4",
        "--logging-steps",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / out / "gengap.json").read_text())


def test_two_process_sft_counts_both_processes_tokens(tmp_path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    model, tok = build_tiny_lm(SMALL)
    model.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    write_dataset(GeneralPoints(style="compact"), tmp_path / "d.jsonl", n=64, progress=False)
    one = _sft(tmp_path, [sys.executable], "one")
    two = _sft(tmp_path, [torchrun, "--nproc_per_node", "2"], "two")
    assert two["step"] == one["step"] == 4
    assert (tmp_path / "two" / "checkpoint-2" / "gengap.json").is_file()
    # Each process trains on its own batches; the accounting must count both (about twice one process's tokens).
    assert (
        1.6 * one["run_compute"]["train_tokens"]
        < two["run_compute"]["train_tokens"]
        < 2.4 * one["run_compute"]["train_tokens"]
    )
