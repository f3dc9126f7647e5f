"""``--model`` values → policies: a game's scripted policy by name, otherwise a model loaded by name or path."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gengap.core.episode import Policy


def make_policies(specs: Sequence[str], game: Any, sampling: Any, batch_size: int = 64) -> dict[str, Policy]:
    """One policy per spec. A spec naming one of the game's scripted policies is that policy (prefix a path
    with ``./`` to load a folder of the same name); anything else is loaded with
    :func:`gengap.models.registry.load` and answers with batched generation."""
    scripted = game.policies()
    for spec in specs:  # every spec is checked before the first model loads: a typo fails in a second
        if spec not in scripted:
            check_model(spec, scripted)
    out: dict[str, Policy] = {}
    for spec in specs:
        out[spec] = scripted[spec]() if spec in scripted else model_policy(spec, game, sampling, batch_size)
    return out


def check_model(spec: str, scripted: Sequence[str]) -> None:
    """Refuse a ``--model`` value that names neither a scripted policy nor a loadable model, in one line that
    lists what is accepted (without importing ``transformers``)."""
    from gengap.models.registry import ModelNotFoundError, resolve

    close = difflib.get_close_matches(spec, list(scripted), n=1, cutoff=0.75)
    if close and not Path(spec).exists():
        raise ValueError(
            f"{spec!r} is neither a scripted policy of this game nor a model folder (did you mean {close[0]!r}?); "
            f"scripted policies: {', '.join(scripted)}"
        )
    try:
        resolve(spec)
    except ModelNotFoundError as err:
        raise ModelNotFoundError(f"{err}; or a scripted policy of this game: {', '.join(scripted)}") from None


def model_policy(spec: str, game: Any, sampling: Any, batch_size: int = 64) -> Policy:
    from gengap.models.policy import ModelPolicy
    from gengap.models.registry import is_vision, load

    loaded = load(spec)
    if game.vision and not is_vision(loaded.tokenizer):
        raise ValueError(
            f"{spec} is a language model and the vision form shows the task only as images: "
            "evaluate it without --vision, or pass a vision-language model"
        )
    return ModelPolicy(loaded.model, loaded.tokenizer, sampling, batch_size=batch_size)
