"""What prepares a model's input: a tokenizer, or for a vision-language model a processor that holds one.

The one place that tells the two apart; everything else asks :func:`is_vision` and :func:`text_tokenizer`.
"""

from __future__ import annotations

from typing import Any


def is_vision(processor_or_tokenizer: Any) -> bool:
    """Whether this belongs to a vision-language model.

    A vision-language model's processor carries an ``image_processor`` beside its tokenizer; its model config
    (what the loader sees before it picks a class) carries a ``vision_config``. Either answers True.
    """
    return hasattr(processor_or_tokenizer, "image_processor") or hasattr(processor_or_tokenizer, "vision_config")


def text_tokenizer(processor_or_tokenizer: Any) -> Any:
    """The tokenizer inside a vision-language processor, or the tokenizer itself."""
    if hasattr(processor_or_tokenizer, "image_processor"):
        return processor_or_tokenizer.tokenizer
    return processor_or_tokenizer
