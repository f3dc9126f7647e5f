"""An optional vLLM backend for the rollout engine, for GPU users (``pip install vllm``).

:func:`vllm_generator` has the interface of :func:`gengap.rl.rollout.model_generator`: conversations (and
images) in, :class:`~gengap.models.generation.Completion` out, with the sampled tokens' log-probabilities under
the *untempered* distribution (vLLM's ``raw_logprobs`` mode), which is what policy-gradient ratios need. vLLM is
imported only when this backend is asked for; nothing else in gengap needs it.

For RL (``gengap rl --algo ppo|grpo --rollout-backend vllm``) the engine runs beside the policy on the same GPU
(colocated, one engine per process, no tensor parallelism) and :meth:`VLLMGenerator.sync_weights` copies the
policy's current weights into it before every rollout, a LoRA policy with its adapters merged, through the
engine's model ``load_weights`` as TRL's colocated GRPO does. PPO recomputes the old log-probabilities with the
training forward anyway, so the engine's numerics never enter its loss.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def checkpoint_weights(model: Any) -> Iterator[list[tuple[str, Any]]]:
    """The policy's weights under their checkpoint names, what an inference engine loads: for a PEFT model the
    adapters merged into the base weights for the duration of the block, wrapper prefixes and LoRA tensors left
    out, a ``modules_to_save`` copy under the original module's name."""
    peft = hasattr(model, "merge_adapter") and hasattr(model, "peft_config")
    if peft:
        model.merge_adapter()
    try:
        named = []
        for name, param in model.named_parameters():
            if peft:
                if "lora_" in name or ".original_module." in name:
                    continue
                name = name.removeprefix("base_model.model.").replace(".base_layer.", ".")
                name = name.replace(".modules_to_save.default.", ".")
            named.append((name, param.detach()))
        yield named
    finally:
        if peft:
            model.unmerge_adapter()


def _engine_model(llm: Any) -> Any:
    """The model inside a colocated vLLM engine (the attribute path TRL's colocated GRPO uses)."""
    executor = llm.llm_engine.model_executor
    worker = executor.driver_worker
    inner = getattr(worker, "worker", None)
    for runner in (getattr(worker, "model_runner", None), getattr(inner, "model_runner", None)):
        if runner is not None and hasattr(getattr(runner, "model", None), "load_weights"):
            return runner.model
    raise RuntimeError(
        "this vLLM engine does not expose its model for weight updates (multi-process engine?): run it colocated "
        "on one GPU (tensor_parallel_size=1) with a vLLM release that TRL's colocated mode supports"
    )


class VLLMGenerator:
    """A generator playing every turn of a batch with a vLLM engine (interface of
    :func:`gengap.rl.rollout.model_generator`). ``sampling`` may be replaced between rollouts (a new seed)."""

    def __init__(self, model: str, sampling: SamplingConfig, **engine_kwargs: Any) -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, logprobs_mode="raw_logprobs", **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.sampling = sampling
        self.synced = 0

    def sync_weights(self, policy: Any) -> None:
        """Load ``policy``'s current weights into the engine and drop its prefix cache (computed with the old)."""
        target = _engine_model(self.llm)
        with checkpoint_weights(policy) as named:
            for name, tensor in named:
                target.load_weights([(name, tensor)])
        self.llm.reset_prefix_cache()
        self.synced += 1

    def __call__(self, conversations: Sequence[list[Message]], images: Sequence[list[Any]]) -> list[Completion]:
        sampling = self.sampling
        params = self._vllm.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
            logprobs=0,  # the sampled token's own log-probability
            skip_special_tokens=True,
        )
        prompts, requests = [], []
        for conv, imgs in zip(conversations, images or [[]] * len(conversations), strict=True):
            ids = self.tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=True)
            ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
            prompts.append(ids)
            request: dict[str, Any] = {"prompt_token_ids": ids}
            if imgs:
                request["multi_modal_data"] = {"image": imgs if len(imgs) > 1 else imgs[0]}
            requests.append(request)
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        return completions_from_vllm(outputs, prompts, self.tokenizer.eos_token_id)


def colocated(process_index: int = 0, local_process_index: int = 0, num_processes: int = 1) -> dict[str, Any]:
    """Engine arguments for a vLLM engine inside a training process (one per process and GPU), whose model
    :meth:`VLLMGenerator.sync_weights` can reach: vLLM's in-process ``external_launcher`` executor, with the
    rank variables it reads and a rendezvous address when the launcher set none."""
    import os
    import socket

    os.environ["RANK"] = str(process_index)
    os.environ["LOCAL_RANK"] = str(local_process_index)
    os.environ["WORLD_SIZE"] = str(num_processes)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(sock.getsockname()[1])
    return {"distributed_executor_backend": "external_launcher", "tensor_parallel_size": 1}


def vllm_generator(model: str, sampling: SamplingConfig, **engine_kwargs: Any) -> VLLMGenerator:
    """A :class:`VLLMGenerator` over the checkpoint at ``model``; ``engine_kwargs`` go to ``vllm.LLM``
    (``gpu_memory_utilization``, ``dtype``, …)."""
    return VLLMGenerator(model, sampling, **engine_kwargs)
