"""Give a language model eyes: a small CLIP-style vision tower and projector around it, LLaVA-style.

Used for ``tiny-vlm`` (around ``tiny-lm``) and ``smollm2-135m-vlm`` (around SmolLM2). The language model keeps
its weights and tokenizer (an ``<image>`` token is added when missing); the image processor is Pillow-only, so
no torchvision is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gengap.models.chat_template import IMAGE


@dataclass(frozen=True)
class VisionTowerConfig:
    """The vision side. At 160 px with 16 px patches an image becomes 100 tokens."""

    image_size: int = 160
    patch_size: int = 16
    hidden_size: int = 96
    num_layers: int = 2
    num_heads: int = 2
    seed: int = 0


def attach_vision(lm: Any, tokenizer: Any, tower: VisionTowerConfig | None = None) -> tuple[Any, Any]:
    """A LLaVA model holding ``lm``'s weights, and its processor; the tower and projector start untrained."""
    import torch
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tower = tower or VisionTowerConfig()
    if IMAGE not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE]})
        lm.resize_token_embeddings(len(tokenizer))
    s, p = tower.image_size, tower.patch_size
    vision = CLIPVisionConfig(
        hidden_size=tower.hidden_size,
        intermediate_size=2 * tower.hidden_size,
        num_hidden_layers=tower.num_layers,
        num_attention_heads=tower.num_heads,
        image_size=s,
        patch_size=p,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=lm.config,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=getattr(lm.config, "tie_word_embeddings", False),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tower.seed)
        model = LlavaForConditionalGeneration(config)
    model.model.language_model.load_state_dict(lm.model.state_dict())
    model.lm_head.load_state_dict(lm.lm_head.state_dict())
    model.generation_config = lm.generation_config
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s}),
        tokenizer=tokenizer,
        patch_size=p,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token=IMAGE,
        chat_template=tokenizer.chat_template,
    )
    return model, processor
