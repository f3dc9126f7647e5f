"""An optional vLLM backend for the rollout engine, for GPU users (``pip install vllm``).

:func:`vllm_generator` has the interface of :func:`gengap.rl.rollout.model_generator`: conversations (and
images) in, :class:`~gengap.models.generation.Completion` out, with the sampled tokens' log-probabilities under
the *untempered* distribution (vLLM's ``raw_logprobs`` mode), which is what policy-gradient ratios need. vLLM is
imported only when this backend is asked for; nothing else in gengap needs it.

What it does not do: move a training policy's new weights into the vLLM engine after each update (the engine
APIs for that differ between vLLM releases). Use it for rollouts and evaluation of a fixed checkpoint, or let
TRL's GRPO drive vLLM itself (``use_vllm``), which keeps its weights in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gengap.models.generation import Completion, Message, SamplingConfig


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as err:
        raise ImportError("the vLLM backend needs the vllm package (GPU machines): pip install vllm") from err
    return vllm


def completions_from_vllm(outputs: Sequence[Any], prompts: Sequence[list[int]], eos_token_id: int) -> list[Completion]:
    """vLLM ``RequestOutput``s → our completions (``token_ids`` end with the end-of-turn token when finished)."""
    done = []
    for out, prompt in zip(outputs, prompts, strict=True):
        first = out.outputs[0]
        ids = list(first.token_ids)
        finished = bool(ids) and ids[-1] == eos_token_id
        logprobs = [float(step[t].logprob) for step, t in zip(first.logprobs or [], ids, strict=False)]
        if len(logprobs) != len(ids):
            raise ValueError("vLLM returned no log-probability for some sampled tokens: sample with logprobs=0")
        done.append(
            Completion(text=first.text, token_ids=ids, logprobs=logprobs, prompt_ids=list(prompt), finished=finished)
        )
    return done


def vllm_generator(model: str, sampling: SamplingConfig, **engine_kwargs: Any) -> Any:
    """A generator playing every turn of a batch with a vLLM engine over the checkpoint at ``model``.

    ``engine_kwargs`` go to ``vllm.LLM`` (``gpu_memory_utilization``, ``dtype``, …).
    """
    vllm = _import_vllm()
    llm = vllm.LLM(model=model, logprobs_mode="raw_logprobs", **engine_kwargs)
    tokenizer = llm.get_tokenizer()
    eos = tokenizer.eos_token_id

    def run(conversations: Sequence[list[Message]], images: Sequence[list[Any]]) -> list[Completion]:
        params = vllm.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
            logprobs=0,  # the sampled token's own log-probability
            skip_special_tokens=True,
        )
        prompts, requests = [], []
        for conv, imgs in zip(conversations, images or [[]] * len(conversations), strict=True):
            ids = tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=True)
            ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
            prompts.append(ids)
            request: dict[str, Any] = {"prompt_token_ids": ids}
            if imgs:
                request["multi_modal_data"] = {"image": imgs if len(imgs) > 1 else imgs[0]}
            requests.append(request)
        return completions_from_vllm(llm.generate(requests, params, use_tqdm=False), prompts, eos)

    return run
