"""PPO checkpoints: what a run saves every ``save_every`` updates, and how it resumes from the last one.

A checkpoint folder ``checkpoint-<update>`` holds the policy (with LoRA: the adapter under ``adapter/`` and the
merged weights beside it, so the folder loads like any model), the tokenizer or processor, the value head, the
optimiser and schedule states, ``trainer_state.json`` (the update reached, the compute this run spent) and
``gengap.json``. It is written under a temporary name and renamed: it appears whole or not at all. The final
model is then copied to the top of the output folder file by file, each atomically, ``gengap.json`` last; a rerun
after a crash in between copies it again (:func:`publish`).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

from gengap.core.checkpoint import META_FILE, last_complete_checkpoint, write_meta
from gengap.core.io import atomic_write_json
from gengap.train.compute import Compute

STATE_FILE = "trainer_state.json"
TRAINING_ONLY = ("optimizer.pt", "scheduler.pt", STATE_FILE)
"""Files a resumed run needs but a user of the final model does not."""


def last_checkpoint(out: Path) -> Path | None:
    """The complete checkpoint of the latest update in ``out``, if any."""
    return last_complete_checkpoint(out, required=(STATE_FILE,))


def discard_partial(out: Path) -> None:
    """Remove what a crash left while a checkpoint or the final model was being written (temporary names)."""
    for tmp in out.glob(".checkpoint-*.tmp"):
        shutil.rmtree(tmp)
    for tmp in out.glob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink()


def publish(checkpoint: Path, out: Path) -> None:
    """Copy the final checkpoint's model files to the top of ``out``, so the folder loads like any model.

    Each file is copied under a temporary name and renamed, ``gengap.json`` last: a crash leaves whole files
    only, and the record that says the final model is there is written once all of it is.
    """
    files = sorted((f for f in checkpoint.iterdir() if f.is_file() and f.name not in TRAINING_ONLY), key=_meta_last)
    for f in files:
        tmp = out / f".{f.name}.tmp"
        shutil.copyfile(f, tmp)
        os.replace(tmp, out / f.name)


def _meta_last(f: Path) -> tuple[bool, str]:
    return f.name == META_FILE, f.name


def load_weights(model: Any, checkpoint: Path, peft: bool) -> None:
    """Copy the policy's weights (with ``peft``: the LoRA adapter's) from ``checkpoint`` into ``model``."""
    from safetensors.torch import load_file

    if peft:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter" / "adapter_model.safetensors")))
        return
    state = load_file(str(checkpoint / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise ValueError(f"checkpoint {checkpoint} does not match the model; start a new output folder")


def resume(
    checkpoint: Path, *, model: Any, value_head: Any, optimizer: Any, scheduler: Any, peft: bool
) -> tuple[int, Compute]:
    """Restore weights, value head, optimiser and schedule in place; returns (updates done, this run's compute)."""
    import torch

    state = json.loads((checkpoint / STATE_FILE).read_text())
    load_weights(model, checkpoint, peft)
    value_head.load_state_dict(torch.load(checkpoint / "value_head.pt", weights_only=True))
    optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))
    return int(state["update"]), Compute.from_dict(state["run_compute"])


def save_checkpoint(
    accelerator: Any,
    out: Path,
    update: int,
    *,
    model: Any,
    value_head: Any,
    optimizer: Any,
    scheduler: Any,
    tokenizer: Any,
    meta: dict[str, Any],
    run_compute: Compute,
    peft: bool,
    final: bool,
) -> None:
    """Write ``checkpoint-<update>`` (main process; every process waits); ``final`` also copies the model to ``out``."""
    import torch

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        ck = out / f"checkpoint-{update}"
        tmp = out / f".checkpoint-{update}.tmp"
        if tmp.exists():  # left by a crash while writing it
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        policy = accelerator.unwrap_model(model)
        if peft:
            policy.save_pretrained(tmp / "adapter")
            copy.deepcopy(policy).merge_and_unload().save_pretrained(tmp)
        else:
            policy.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(accelerator.unwrap_model(value_head).state_dict(), tmp / "value_head.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        write_meta(tmp, meta)
        atomic_write_json(tmp / STATE_FILE, {"update": update, "run_compute": run_compute.to_dict()})
        if ck.exists():
            shutil.rmtree(ck)
        tmp.rename(ck)
        if final:  # the final model also at the top of the output folder, like SFT
            publish(ck, out)
    accelerator.wait_for_everyone()
