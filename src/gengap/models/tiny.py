"""``tiny-lm``: a few-million-parameter Llama that gengap builds itself, for studies on a laptop CPU.

The architecture is a stock ``transformers`` Llama built from a config, so everything downstream
(``generate``, TRL, PEFT, ``save_pretrained``) treats it like any Hugging Face model. Untrained it knows
nothing: ``gengap pretrain`` gives it general skills first (see :mod:`gengap.train.corpus`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gengap.models.char_tokenizer import build_char_tokenizer


@dataclass(frozen=True)
class TinyLMConfig:
    """Size of the built-in language model. The defaults train at a few thousand tokens/s on one CPU thread."""

    hidden_size: int = 192
    """Width of the residual stream."""
    num_layers: int = 4
    num_heads: int = 3
    intermediate_size: int = 512
    """Width of the MLP."""
    max_positions: int = 512
    """Longest sequence (prompt + answers) in characters."""
    seed: int = 0
    """Seed of the random initialisation."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_tiny_lm(config: TinyLMConfig | None = None) -> tuple[Any, Any]:
    """A freshly initialised ``(model, tokenizer)`` pair; deterministic for a given config."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = config or TinyLMConfig()
    tokenizer = build_char_tokenizer()
    hf_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = LlamaForCausalLM(hf_config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model, tokenizer


@dataclass(frozen=True)
class TinyVLMConfig:
    """The built-in vision-language model: ``tiny-lm`` with a small vision tower (see :mod:`gengap.models.vlm`)."""

    text: TinyLMConfig = TinyLMConfig()
    vision: Any = None
    """A :class:`gengap.models.vlm.VisionTowerConfig`; ``None`` for its defaults."""


def build_tiny_vlm(config: TinyVLMConfig | None = None) -> tuple[Any, Any]:
    """A freshly initialised ``(model, processor)`` pair; ``processor.tokenizer`` is the character tokenizer."""
    from gengap.models.vlm import attach_vision

    config = config or TinyVLMConfig()
    lm, tokenizer = build_tiny_lm(config.text)
    return attach_vision(lm, tokenizer, config.vision)
