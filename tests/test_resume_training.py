"""Exact resume of the training commands after ``kill -9``: pretrain, sft, rl --algo ppo, rl --algo grpo.

For each command: an uninterrupted run in-process; the same command as a real CLI process killed with SIGKILL at
an observed point (a checkpoint folder or a log row appears), then rerun to the end; and the crash states a
kill can leave that timing rarely hits (a checkpoint without its ``gengap.json``; the final weights without the
run's summary). Each rerun must equal the uninterrupted run: the same checkpoints, log rows (no duplicates, no
gaps), step count, tokens and FLOPs, and bit-identical weights (``torch.equal``). The reruns happen in copies of
the reference folder under another name, so a renamed run folder resuming is tested on the way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from safetensors.torch import load_file  # noqa: E402

from gengap.cli import main  # noqa: E402
from gengap.gp import GeneralPoints  # noqa: E402
from gengap.gp.expert import write_dataset  # noqa: E402
from gengap.models.tiny import TinyLMConfig, build_tiny_lm  # noqa: E402

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=1024)
TIMING = ("seconds", "_per_s", "runtime", "per_second", "time")
"""Keys of measured durations: the only numbers allowed to differ between a run and its resumed twin."""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A tiny saved base model and a small expert data file."""
    root = tmp_path_factory.mktemp("inputs")
    model, tok = build_tiny_lm(SMALL)
    model.save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    write_dataset(GeneralPoints(style="compact"), root / "gp.jsonl", n=32, seed=0, progress=False)
    return root


def argv(command: str, inputs: Path, out: Path) -> list[str]:
    """The command line of each training command, sized to run in about a second."""
    if command == "pretrain":
        return [
            "pretrain",
            *("--hidden-size", "32", "--num-layers", "1", "--num-heads", "2", "--intermediate-size", "64"),
            *("--max-steps", "6", "--batch-size", "4", "--save-steps", "2", "--output-dir", str(out)),
        ]
    if command == "sft":
        return [
            *("sft", "--model", str(inputs / "base"), "--data", str(inputs / "gp.jsonl"), "--output-dir", str(out)),
            *("--max-steps", "6", "--per-device-train-batch-size", "4", "--save-steps", "2", "--logging-steps", "1"),
        ]
    rl = ["rl", "--model", str(inputs / "base"), "--output-dir", str(out), "--style", "compact", "--verify-iter", "2"]
    rl += ["--max-new-tokens", "8", "--learning-rate", "1e-3"]
    if command == "ppo":
        return [
            *(*rl, "--algo", "ppo", "--updates", "4", "--episodes-per-update", "4", "--rollout-batch-size", "4"),
            *("--minibatch-size", "4", "--save-every", "2"),
        ]
    return [
        *(*rl, "--algo", "grpo", "--n-prompts", "8", "--num-generations", "4", "--per-device-train-batch-size", "8"),
        *("--max-steps", "4", "--save-steps", "2"),
    ]


def run(command: str, inputs: Path, out: Path) -> None:
    assert main(argv(command, inputs, out)) == 0


class KillWhen:
    """The real CLI in a process of its own, SIGKILLed by a watcher thread as soon as ``seen(out)`` holds.

    The watcher lets the test run the uninterrupted reference in-process meanwhile (the process spends most of
    its time importing torch and TRL).
    """

    def __init__(self, command: str, inputs: Path, out: Path, seen: Any, timeout: float = 300) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "gengap.cli", *argv(command, inputs, out)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.watcher = threading.Thread(target=self._watch, args=(out, seen, timeout), daemon=True)
        self.watcher.start()

    def _watch(self, out: Path, seen: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and not seen(out) and time.monotonic() < deadline:
            time.sleep(0.005)
        self.proc.send_signal(signal.SIGKILL)

    def status(self) -> int:
        """The process's exit status once it is gone (``-SIGKILL`` when the kill came first)."""
        self.watcher.join()
        return self.proc.wait()


# ------------------------------------------------------------------------------------------------ comparing runs


def untimed(x: Any) -> Any:
    """``x`` without durations and without the output folder's name (the reruns happen in renamed copies)."""
    if isinstance(x, dict):
        return {k: untimed(v) for k, v in x.items() if k != "output_dir" and not any(t in k for t in TIMING)}
    if isinstance(x, list):
        return [untimed(v) for v in x]
    return x


def checkpoints(out: Path) -> list[Path]:
    return sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))


def record(out: Path) -> dict[str, Any]:
    """Everything of a finished run that a resumed one must reproduce, but its weights."""
    rec: dict[str, Any] = {
        "files": sorted(p.name for p in out.iterdir()),
        "meta": untimed(json.loads((out / "gengap.json").read_text())),
        "checkpoints": [p.name for p in checkpoints(out)],
    }
    for ck in checkpoints(out):
        rec[ck.name] = {
            "files": sorted(p.name for p in ck.iterdir()),
            "meta": untimed(json.loads((ck / "gengap.json").read_text())),
            "state": untimed(json.loads((ck / "trainer_state.json").read_text())),
        }
    if (out / "log.jsonl").is_file():
        rec["log"] = [untimed(json.loads(line)) for line in (out / "log.jsonl").read_text().splitlines()]
    return rec


def weights(folder: Path) -> dict[str, Any]:
    return {f"{f.name}/{k}": v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(f).items()}


def assert_same_run(resumed: Path, reference: Path) -> None:
    assert record(resumed) == record(reference)
    for folder in (Path("."), *(Path(ck.name) for ck in checkpoints(reference))):
        a, b = weights(resumed / folder), weights(reference / folder)
        assert a.keys() == b.keys() and a
        assert all(torch.equal(a[k], b[k]) for k in a), f"weights in {folder} differ"


def copy_of(reference: Path, name: str) -> Path:
    out = reference.parent / name
    shutil.copytree(reference, out)
    return out


def steps_and_flops(out: Path) -> tuple[int, float, int]:
    meta = json.loads((out / "gengap.json").read_text())
    return meta["step"], meta["run_compute"]["flops"], meta["run_compute"]["train_tokens"]


# ------------------------------------------------------------------------------------------------ the commands

FINAL = {"pretrain": 6, "sft": 6, "ppo": 4, "grpo": 4}


def first_checkpoint(out: Path) -> bool:
    """The first checkpoint is complete (its gengap.json is written last): a rerun resumes from step 2."""
    return (out / "checkpoint-2" / "gengap.json").is_file()


def third_log_row(out: Path) -> bool:
    """PPO has logged update 3 but not yet checkpointed it: a rerun must drop that row and log it again once."""
    log = out / "log.jsonl"
    return log.is_file() and log.read_text().count("\n") >= 3


@pytest.mark.parametrize("command", ["pretrain", "sft", "ppo", "grpo"])
def test_kill_9_then_rerun_equals_the_uninterrupted_run(command: str, inputs: Path, tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    kill = KillWhen(command, inputs, killed, third_log_row if command == "ppo" else first_checkpoint)
    reference = tmp_path / "reference"
    run(command, inputs, reference)
    assert steps_and_flops(reference)[0] == FINAL[command]
    assert kill.status() == -signal.SIGKILL, "the run ended before the kill point; the test no longer tests resume"
    run(command, inputs, killed)
    assert_same_run(killed, reference)
    if command == "ppo":
        updates = [json.loads(line)["update"] for line in (killed / "log.jsonl").read_text().splitlines()]
        assert updates == [1, 2, 3, 4]  # no duplicate of update 3, no gap


@pytest.mark.parametrize("command", ["sft", "ppo", "grpo"])
def test_crash_states_a_kill_can_leave_resume_exactly(command: str, inputs: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    run(command, inputs, reference)
    final = checkpoints(reference)[-1]

    # Killed between the final checkpoint and the run's summary: the weights are there, gengap.json is not.
    # (Resuming from a checkpoint at max_steps used to train one step more: 121 of 120, 0.84 % more FLOPs.)
    out = copy_of(reference, "no-summary")
    (out / "gengap.json").unlink()
    (out / "model.safetensors").write_bytes(b"torn")
    run(command, inputs, out)
    assert steps_and_flops(out) == steps_and_flops(reference)
    assert_same_run(out, reference)

    # Killed between writing the final checkpoint's weights and its metadata.
    out = copy_of(reference, "no-meta")
    for name in ("gengap.json", "model.safetensors"):
        (out / name).unlink()
    if command == "ppo":  # a PPO checkpoint is written under a temporary name, then renamed
        (out / final.name / "trainer_state.json").unlink()
        (out / final.name).rename(out / f".{final.name}.tmp")
    else:
        (out / final.name / "gengap.json").unlink()
    run(command, inputs, out)
    assert_same_run(out, reference)
    if command == "ppo":  # fewer updates than the folder holds cannot be resumed to: refused in one line
        assert main([*argv(command, inputs, out), "--updates", "3"]) == 2
