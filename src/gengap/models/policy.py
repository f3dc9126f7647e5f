"""A model as a policy of the episode loop: it answers the current turn of a batch of episodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gengap.core.episode import Episode
from gengap.models.continuation import GenerationSession
from gengap.models.generation import Completion, SamplingConfig, generate
from gengap.models.processing import is_vision


class ModelPolicy:
    """Answers with batched generation; keeps the last completions for callers that need tokens and log-probs.

    The batch's KV cache is kept between calls (a :class:`~gengap.models.continuation.GenerationSession`): when the
    next call's episodes all continue the last call's, only their answers and feedback are prefilled."""

    def __init__(self, model: Any, tokenizer: Any, sampling: SamplingConfig | None = None, batch_size: int = 64):
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling or SamplingConfig()
        self.batch_size = batch_size
        self.last: list[Completion] = []
        self.prompt_tokens = 0
        self.generated_tokens = 0
        self.session = GenerationSession()

    def describe(self) -> dict[str, Any]:
        """Identifies the answers: the checkpoint (path, step, compute) and the sampling settings."""
        from dataclasses import asdict

        config = getattr(self.model, "config", None)
        meta = getattr(self.model, "gengap_meta", {}) or {}
        return {
            "model": getattr(config, "_name_or_path", None),
            "step": meta.get("step"),
            "flops": (meta.get("compute") or {}).get("flops"),
            "sampling": asdict(self.sampling),
        }

    def __call__(self, episodes: Sequence[Episode]) -> list[str]:
        images = [ep.images() for ep in episodes]
        if any(images) and not is_vision(self.tokenizer):
            raise ValueError("these episodes show images: evaluate them with a vision-language model")
        self.last = generate(
            self.model,
            self.tokenizer,
            [ep.messages for ep in episodes],
            self.sampling,
            images=images if any(images) else None,
            batch_size=self.batch_size,
            session=self.session,
        )
        self.prompt_tokens += sum(len(c.prompt_ids) for c in self.last)
        self.generated_tokens += sum(len(c.token_ids) for c in self.last)
        return [c.text for c in self.last]
