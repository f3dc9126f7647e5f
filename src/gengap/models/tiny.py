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
    """The built-in vision-language model: a small CLIP-style vision tower, a projector and ``tiny-lm``.

    A LLaVA architecture from ``transformers``; images go through a Pillow-only processor (no torchvision).
    At 160 px with 16 px patches an image becomes 100 tokens, and the four cards of a table are ~36 px wide.
    """

    text: TinyLMConfig = TinyLMConfig()
    image_size: int = 160
    patch_size: int = 16
    vision_hidden_size: int = 96
    vision_layers: int = 2
    vision_heads: int = 2
    seed: int = 0


def build_tiny_vlm(config: TinyVLMConfig | None = None) -> tuple[Any, Any]:
    """A freshly initialised ``(model, processor)`` pair; ``processor.tokenizer`` is the character tokenizer."""
    import torch
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from gengap.models.chat_template import CHAT_TEMPLATE, IMAGE

    config = config or TinyVLMConfig()
    lm, tokenizer = build_tiny_lm(config.text)
    s, p = config.image_size, config.patch_size
    vision = CLIPVisionConfig(
        hidden_size=config.vision_hidden_size,
        intermediate_size=2 * config.vision_hidden_size,
        num_hidden_layers=config.vision_layers,
        num_attention_heads=config.vision_heads,
        image_size=s,
        patch_size=p,
    )
    hf_config = LlavaConfig(
        vision_config=vision,
        text_config=lm.config,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = LlavaForConditionalGeneration(hf_config)
    model.generation_config = lm.generation_config
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s}),
        tokenizer=tokenizer,
        patch_size=p,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token=IMAGE,
        chat_template=CHAT_TEMPLATE,
    )
    return model, processor
