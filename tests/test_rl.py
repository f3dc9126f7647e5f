"""RL: GAE over turns, the PPO objective, the rollout engine, and the PPO loop (tiny models, in-process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from gengap.models.generation import Completion  # noqa: E402
from gengap.models.tiny import TinyLMConfig, build_tiny_lm  # noqa: E402
from gengap.rl.advantages import gae  # noqa: E402
from gengap.rl.config import RLConfig  # noqa: E402
from gengap.rl.losses import kl_to_reference, policy_loss, token_entropy, value_loss  # noqa: E402
from gengap.rl.ppo import forward_turns, token_weights, train_ppo  # noqa: E402
from gengap.rl.rollout import rollout  # noqa: E402

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=1024)


def test_gae_by_hand_with_a_cut_and_a_terminated_episode_in_one_batch() -> None:
    # episode 0: two turns, ends (terminal); episode 1: two turns, cut by the rollout (bootstrap 0.5).
    # The turns are interleaved as the engine records them.
    rewards = [-1.0, 0.0, 5.0, -1.0]
    values = [0.2, 0.4, 0.1, 0.3]
    episode = [0, 1, 0, 1]
    terminal = [False, False, True, False]
    cut = [False, False, False, True]
    bootstrap = [9.9, 9.9, 9.9, 0.5]  # only the cut turn's entry may be read
    g, lam = 0.9, 0.95
    adv, ret = gae(rewards, values, episode, terminal, cut, bootstrap, gamma=g, lam=lam)
    # episode 0: last turn has no successor: δ = 5 - 0.1 = 4.9; first: δ = -1 + 0.9·0.1 - 0.2 = -1.11
    a0_last = 4.9
    a0_first = -1.11 + g * lam * a0_last
    # episode 1: cut → bootstrap from 0.5, not from any other episode's value: δ = -1 + 0.45 - 0.3 = -0.85
    a1_last = -1 + g * 0.5 - 0.3
    a1_first = (0.0 + g * 0.3 - 0.4) + g * lam * a1_last
    assert adv == pytest.approx([a0_first, a1_first, a0_last, a1_last])
    assert ret == pytest.approx([a + v for a, v in zip(adv, values, strict=True)])
    with pytest.raises(ValueError, match="exactly one of terminal or cut"):
        gae([1.0], [0.0], [0], [False], [False], [0.0])


def test_clipped_surrogate_and_value_clipping_on_known_numbers() -> None:
    new = torch.log(torch.tensor([1.5, 0.5, 1.05]))
    old = torch.zeros(3)
    adv = torch.tensor([1.0, -1.0, 2.0])
    loss, stats = policy_loss(new, old, adv, clip=0.1)
    # ratios 1.5 (A>0: clipped to 1.1), 0.5 (A<0: min(-0.5, -0.9) = -0.9), 1.05 (inside: 2.1)
    assert loss.item() == pytest.approx(-(1.1 - 0.9 + 2.1) / 3)
    assert stats["clipfrac"] == pytest.approx(2 / 3)
    v_new, v_old, ret = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.0]), torch.tensor([2.0, 0.05])
    # first: unclipped (1-2)² = 1; clipped value 0.5+0.1 = 0.6 → (0.6-2)² = 1.96; max = 1.96. second: 0.0025
    assert value_loss(v_new, v_old, ret, clip=0.1).item() == pytest.approx((1.96 + 0.0025) / 2)
    assert value_loss(v_new, v_old, ret, clip=None).item() == pytest.approx((1.0 + 0.0025) / 2)


def test_entropy_and_kl_terms_are_real() -> None:
    uniform = torch.zeros(1, 2, 4)
    mask = torch.ones(1, 2)
    assert token_entropy(uniform, mask).item() == pytest.approx(float(torch.log(torch.tensor(4.0))))
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    assert kl_to_reference(logp, logp, mask).item() == pytest.approx(0.0)
    assert kl_to_reference(logp, torch.log(torch.tensor([[0.25, 0.25]])), mask).item() > 0
    # on a real model the terms move the loss when switched on
    model, tok = build_tiny_lm(SMALL)
    head = torch.nn.Linear(32, 1)
    turn = _turn(tok, "cards: 1 2 3 4", "formula: 1+2+3+4")
    f = forward_turns(
        model,
        head,
        [turn],
        pad_id=tok.pad_token_id,
        temperature=0.2,
        weights=[[1.0] * len(turn.answer_ids)],
        want_entropy=True,
    )
    assert f["entropy"].item() > 0
    assert torch.isfinite(f["turn_logp"]).all() and f["values"].shape == (1,)


def _turn(tok, prompt: str, answer: str):
    from gengap.models.generation import prompt_ids
    from gengap.rl.rollout import Turn

    msgs = [{"role": "user", "content": prompt}]
    ids = prompt_ids(tok, [msgs])[0]
    ans = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return Turn(0, 0, msgs, [], ids, ans, [0.0] * len(ans), answer, 0.0, "x", terminal=True)


def test_pre_answer_tokens_get_their_own_weight() -> None:
    _, tok = build_tiny_lm(SMALL)
    text = "thought: add them\nformula: 1+2"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    w = token_weights(tok, ids, text, 0.5)
    cut = text.index("formula")
    assert w[:cut] == [0.5] * cut and set(w[cut:]) == {1.0}
    assert token_weights(tok, ids, text, 1.0) == [1.0] * len(ids)


class Scripted:
    """A fake model: answers each conversation with the next text of its script (by first user turn)."""

    def __init__(self, script) -> None:
        self.script = script
        self.calls: list[int] = []

    def __call__(self, conversations, images):
        self.calls.append(len(conversations))
        out = []
        for conv in conversations:
            n_answers = sum(m["role"] == "assistant" for m in conv)
            text = self.script(conv, n_answers)
            ids = [ord(c) % 97 for c in text]
            out.append(Completion(text, ids, [-0.1] * len(ids), [1, 2, 3], True))
        return out


def test_rollout_of_a_scripted_model_on_generalpoints() -> None:
    from gengap.gp.game import GeneralPoints

    game = GeneralPoints(split="id", style="compact", verify_iter=3)
    episodes = {}

    def new(k: int):
        episodes[k] = game.episode(100 + k)
        return episodes[k]

    def script(conv, n):
        ep = next(e for e in episodes.values() if e.messages[0] == conv[0])
        v = list(ep.values)
        wrong = "+".join(map(str, v)) if sum(v) != 24 else "*".join(map(str, v))  # the hand's numbers, not 24
        return f"formula: {wrong}" if n == 0 else f"formula: {ep.solutions[0]}"  # wrong, then right

    fake = Scripted(script)
    ro = rollout(fake, new, 10, batch_size=4)
    assert fake.calls[0] == 4 and max(fake.calls) == 4  # the batch is refilled as episodes finish
    assert len(ro.turns) == 20 and ro.stats["success_rate"] == 1.0
    for t in ro.turns:
        first = t.index == 0
        assert t.outcome == ("wrong_value" if first else "correct")
        assert t.terminal == (not first) and not t.cut
        assert t.reward == (game.rewards.wrong_value if first else game.rewards.correct)
        assert len(t.answer_ids) == len(t.logprobs) == len(t.answer)
        assert t.messages[-1]["role"] == "user"  # the prompt ends with the user's turn (task or feedback)
    assert ro.generated_tokens == sum(len(t.answer_ids) for t in ro.turns)


def test_model_rollouts_continue_each_episode_from_its_last_turn() -> None:
    """The engine's model generator keeps the batch's cache between turns: the second and third turns prefill only
    answer and feedback, and the episodes play out exactly as with a fresh prefill every turn."""
    from gengap.gp.game import GeneralPoints
    from gengap.models.generation import SamplingConfig, generate
    from gengap.rl.rollout import model_generator

    torch.manual_seed(0)
    model, tok = build_tiny_lm(SMALL)
    game = GeneralPoints(style="compact", verify_iter=3)
    sampling = SamplingConfig(temperature=0.2, max_new_tokens=24, seed=0)
    gen = model_generator(model, tok, sampling, batch_size=8)
    kept = rollout(gen, lambda k: game.episode(k // 4), 8, batch_size=8)
    fresh = rollout(lambda convs, _: generate(model, tok, convs, sampling), lambda k: game.episode(k // 4), 8)
    assert gen.session.reused_calls == 2  # turns 2 and 3
    assert [t.answer_ids for t in kept.turns] == [t.answer_ids for t in fresh.turns]
    assert [t.prompt_ids for t in kept.turns] == [t.prompt_ids for t in fresh.turns]
    for a, b in zip(kept.turns, fresh.turns, strict=True):
        assert a.reward == b.reward and torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-5)


def test_rollout_of_a_scripted_model_on_virl_with_cut_episodes() -> None:
    from gengap.virl.game import VIRL

    game = VIRL(world="grid", style="compact")
    live = {}

    def new(k: int):
        live[k] = game.episode(k)
        return live[k]

    def script(conv, n):
        ep = next(e for e in live.values() if e.messages[0]["content"] == conv[0]["content"])
        return ep.expert_answer()

    ro = rollout(Scripted(script), new, 3, batch_size=3, max_turns=4)
    assert (
        len(ro.turns) == 12 and {t.outcome for t in ro.turns} == {"correct"} and {t.reward for t in ro.turns} == {1.0}
    )
    lasts = [t for t in ro.turns if t.index == 3]
    assert len(lasts) == 3 and all(t.cut and not t.terminal for t in lasts)
    for t in lasts:
        assert t.next_messages == live[t.episode].messages and live[t.episode].index == 4


def _base(tmp_path: Path) -> Path:
    model, tok = build_tiny_lm(SMALL)
    model.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    return tmp_path / "base"


def _cfg(tmp_path: Path, **kw) -> RLConfig:
    base = dict(
        model=str(tmp_path / "base"),
        output_dir=str(tmp_path / "ppo"),
        style="compact",
        updates=2,
        episodes_per_update=6,
        rollout_batch_size=6,
        verify_iter=2,
        max_new_tokens=12,
        minibatch_size=4,
        gradient_accumulation_steps=2,
        save_every=1,
        learning_rate=1e-3,
        max_grad_norm=0.05,
    )
    return RLConfig(**{**base, **kw})


def test_ppo_clips_gradients_logs_terms_and_resumes(tmp_path) -> None:
    _base(tmp_path)
    row = train_ppo(_cfg(tmp_path, ent_coef=0.01, kl_coef=0.1))
    assert row["update"] == 2 and "entropy" in row and "kl_to_init" in row
    assert row["grad_norm"] > 0.05 >= row["grad_norm_clipped"] - 1e-6  # it really clips
    assert row["compute"]["train_tokens"] > 0 and row["compute"]["generation_tokens"] > 0
    meta = json.loads((tmp_path / "ppo" / "checkpoint-2" / "gengap.json").read_text())
    assert meta["step"] == 2 and meta["run_compute"]["flops"] > 0
    assert meta["params"] == meta["trainable_params"] == row["params"]  # a full fine-tune trains every weight
    row = train_ppo(_cfg(tmp_path, ent_coef=0.01, kl_coef=0.1, updates=3))  # resumes at update 2
    lines = (tmp_path / "ppo" / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["update"] for x in lines] == [1, 2, 3]
    shutil.rmtree(tmp_path / "ppo" / "checkpoint-3")  # a crash after logging update 3, before its checkpoint
    train_ppo(_cfg(tmp_path, ent_coef=0.01, kl_coef=0.1, updates=3))  # resumes at update 2 again
    lines = (tmp_path / "ppo" / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["update"] for x in lines] == [1, 2, 3]  # one row per update, the newest
    with pytest.raises(ValueError, match="other settings"):
        train_ppo(_cfg(tmp_path, clip=0.3, updates=4))
    off = train_ppo(_cfg(tmp_path, output_dir=str(tmp_path / "plain"), updates=1))
    assert "entropy" not in off and "kl_to_init" not in off


def test_two_processes_step_the_lr_schedule_once_per_update(tmp_path) -> None:
    _base(tmp_path)
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    cmd = [
        torchrun,
        "--nproc_per_node",
        "2",
        "-m",
        "gengap.cli",
        "rl",
        "--algo",
        "ppo",
        "--model",
        str(tmp_path / "base"),
        "--output-dir",
        str(tmp_path / "two"),
        "--updates",
        "3",
        "--episodes-per-update",
        "4",
        "--rollout-batch-size",
        "4",
        "--verify-iter",
        "1",
        "--max-new-tokens",
        "8",
        "--minibatch-size",
        "4",
        "--lr-scheduler-type",
        "linear",
        "--learning-rate",
        "0.003",
        "--save-every",
        "3",
        "--style",
        "compact",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert [r["learning_rate"] for r in rows] == pytest.approx([0.003, 0.002, 0.001])
    assert rows[0]["episodes"] == 4  # per process; the compute counts both
    assert (tmp_path / "two" / "checkpoint-3" / "value_head.pt").is_file()


def test_grpo_rollout_func_masks_feedback_and_returns_episode_returns() -> None:
    from gengap.gp.game import GeneralPoints
    from gengap.models.generation import prompt_ids
    from gengap.rl.grpo import _key, completions_of, episode_dataset

    _, tok = build_tiny_lm(SMALL)
    game = GeneralPoints(style="compact", verify_iter=3)
    dataset, lookup = episode_dataset(game, 4, seed=0)
    episodes = {}

    def new(k: int):
        episodes[k] = game.episode(lookup[_key(dataset[k % 4]["prompt"])])
        return episodes[k]

    def fake(conversations, images):
        out = []
        for conv in conversations:
            ep = next(e for e in episodes.values() if e.messages[0] == conv[0])
            text = "formula: 1+1" if sum(m["role"] == "assistant" for m in conv) == 0 else f"formula: {ep.solutions[0]}"
            ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            out.append(Completion(text, ids, [-0.5] * len(ids), prompt_ids(tok, [conv])[0], True))
        return out

    ro = rollout(fake, new, 8, batch_size=8)
    out = completions_of(ro, 8)
    for k in range(8):
        ep = episodes[k]
        full = tok.apply_chat_template([ep.messages], tokenize=True)
        full = list(full["input_ids"][0] if hasattr(full, "keys") else full[0])
        seq = out["prompt_ids"][k] + out["completion_ids"][k]
        assert seq == full[: len(seq)]  # the completion is the real conversation after the first prompt
        mask = out["env_mask"][k]
        assert len(mask) == len(out["completion_ids"][k]) == len(out["logprobs"][k])
        first = tok("formula: 1+1", add_special_tokens=False)["input_ids"]
        assert mask[: len(first) + 1] == [1] * (len(first) + 1) and 0 in mask and mask[-1] == 1
        assert all(lp == 0.0 for lp, m in zip(out["logprobs"][k], mask, strict=True) if m == 0)
    assert RLConfig(algo="grpo").num_generations == 8


def test_grpo_trains_through_trl(tmp_path) -> None:
    from gengap.rl.grpo import train_grpo

    _base(tmp_path)
    trainer = train_grpo(
        RLConfig(
            algo="grpo",
            style="compact",
            model=str(tmp_path / "base"),
            output_dir=str(tmp_path / "grpo"),
            n_prompts=8,
            num_generations=4,
            per_device_train_batch_size=8,
            max_steps=2,
            verify_iter=2,
            max_new_tokens=12,
            save_steps=2,
        )
    )
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    assert len(rewards) == 2 and all(r <= 0 for r in rewards)  # an untrained model fails its episodes
    assert (tmp_path / "grpo" / "checkpoint-2").is_dir()


def test_shipped_accelerate_configs_load() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    root = Path(__file__).resolve().parents[1] / "configs" / "accelerate"
    kinds = {p.name: str(load_config_from_file(str(p)).distributed_type) for p in sorted(root.glob("*.yaml"))}
    assert kinds["1gpu.yaml"].endswith("NO") and kinds["8gpu.yaml"].endswith("MULTI_GPU")
    assert kinds["8gpu-zero2.yaml"].endswith("DEEPSPEED") and kinds["8gpu-fsdp.yaml"].endswith("FSDP")
    for name in ("8gpu.yaml", "8gpu-zero2.yaml", "8gpu-fsdp.yaml"):
        assert load_config_from_file(str(root / name)).num_processes == 8


@pytest.mark.parametrize("game_name", ["gp", "virl"])
def test_vision_rollouts_and_ppo_forward_on_a_tiny_vlm(game_name: str) -> None:
    """GP-VL and V-IRL-VL go through the same engine and PPO forward; turn log-probs match the sampling ones."""
    from gengap.models.generation import SamplingConfig
    from gengap.models.tiny import TinyVLMConfig, build_tiny_vlm
    from gengap.models.vlm import VisionTowerConfig
    from gengap.rl.ppo import build_value_head
    from gengap.rl.rollout import model_generator

    model, proc = build_tiny_vlm(TinyVLMConfig(text=SMALL, vision=VisionTowerConfig(image_size=64, hidden_size=32)))
    if game_name == "gp":
        from gengap.gp.game import GeneralPoints

        game = GeneralPoints(vision=True, style="compact", image_size=64, verify_iter=2)
    else:
        from gengap.virl.game import VIRL

        game = VIRL(world="grid", vision=True, style="compact", image_size=64)
    gen = model_generator(model, proc, SamplingConfig(temperature=1.0, max_new_tokens=8, seed=0), batch_size=4)
    ro = rollout(gen, lambda k: game.episode(k), 3, batch_size=3, max_turns=2)
    assert ro.turns and all(len(t.images) == 1 for t in ro.turns)
    head = build_value_head(32, 0)
    with torch.no_grad():
        f = forward_turns(
            model,
            head,
            ro.turns,
            pad_id=proc.tokenizer.pad_token_id,
            temperature=1.0,
            weights=[[1.0] * len(t.answer_ids) for t in ro.turns],
            processor=proc,
        )
    sampled = torch.tensor([sum(t.logprobs) for t in ro.turns])
    assert torch.allclose(f["turn_logp"], sampled, atol=1e-3)
    assert f["values"].shape == (len(ro.turns),)


def test_ppo_reports_to_wandb_when_asked(tmp_path, monkeypatch) -> None:
    import sys
    import types

    _base(tmp_path)
    calls: dict[str, list] = {"init": [], "log": [], "finish": []}

    class Run:
        def log(self, metrics, step):
            calls["log"].append((step, metrics))

        def finish(self):
            calls["finish"].append(True)

    fake = types.ModuleType("wandb")
    fake.init = lambda **kw: calls["init"].append(kw) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    train_ppo(_cfg(tmp_path, updates=1, report_to="wandb"))
    (init,) = calls["init"]
    assert init["resume"] == "allow" and init["config"]["updates"] == 1  # a resumed run continues its wandb run
    assert [step for step, _ in calls["log"]] == [1] and "success_rate" in calls["log"][0][1]
    assert calls["finish"] == [True]

    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    with pytest.raises(ValueError, match="pip install wandb"):
        train_ppo(_cfg(tmp_path, output_dir=str(tmp_path / "w2"), updates=1, report_to="wandb"))
    with pytest.raises(ValueError, match="none, tensorboard, wandb"):
        train_ppo(_cfg(tmp_path, output_dir=str(tmp_path / "w3"), updates=1, report_to="mlflow"))


def test_vllm_backend_is_optional_and_its_outputs_become_completions(monkeypatch) -> None:
    import sys
    from types import SimpleNamespace as NS

    from gengap.models.generation import SamplingConfig
    from gengap.rl.vllm_backend import completions_from_vllm, vllm_generator

    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed: a clear error, only when asked for
    with pytest.raises(ImportError, match="pip install vllm"):
        vllm_generator("some/model", SamplingConfig())
    step = lambda token, lp: {token: NS(logprob=lp)}  # noqa: E731
    finished = NS(
        outputs=[NS(text="formula: 1+2", token_ids=[5, 6, 2], logprobs=[step(5, -0.1), step(6, -0.2), step(2, -0.3)])]
    )
    cut = NS(outputs=[NS(text="for", token_ids=[7, 8], logprobs=[step(7, -1.0), step(8, -2.0)])])
    a, b = completions_from_vllm([finished, cut], [[1, 2], [3]], eos_token_id=2)
    assert a.finished and a.token_ids == [5, 6, 2] and a.logprobs == [-0.1, -0.2, -0.3] and a.prompt_ids == [1, 2]
    assert not b.finished and b.text == "for" and b.logprobs == [-1.0, -2.0]
    with pytest.raises(ValueError, match="logprobs=0"):
        completions_from_vllm([NS(outputs=[NS(text="x", token_ids=[5], logprobs=None)])], [[1]], eos_token_id=2)


def _fake_vllm(monkeypatch, answer: str = "formula: 1+2") -> list:
    """A stand-in vLLM (which needs a GPU): its engines record their arguments, the weights loaded into them (one
    dict per sync, a sync ending with a prefix-cache reset) and the prompts they answer, always with ``answer``."""
    import sys
    import types
    from types import SimpleNamespace as NS

    from transformers import AutoTokenizer

    engines = []

    class FakeLLM:
        def __init__(self, model: str, **kwargs) -> None:
            self.kwargs, self.pending, self.syncs, self.prompts = kwargs, {}, [], 0
            self.tok = AutoTokenizer.from_pretrained(model)
            runner = NS(model=NS(load_weights=lambda pairs: self.pending.update({n: t.clone() for n, t in pairs})))
            self.llm_engine = NS(model_executor=NS(driver_worker=NS(model_runner=runner)))
            engines.append(self)

        def get_tokenizer(self):
            return self.tok

        def reset_prefix_cache(self) -> None:  # ends a sync
            self.syncs.append(self.pending)
            self.pending = {}

        def generate(self, requests, params, use_tqdm=False):
            assert params["logprobs"] == 0 and all(r["prompt_token_ids"] for r in requests)
            self.prompts += len(requests)
            ids = [*self.tok.encode(answer, add_special_tokens=False), self.tok.eos_token_id]
            steps = [{t: NS(logprob=-0.5)} for t in ids]
            return [NS(outputs=[NS(text=answer, token_ids=ids, logprobs=steps)]) for _ in requests]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = FakeLLM, lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", fake)
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(var, "")  # recorded, so that what the engine sets is undone after the test
        monkeypatch.delenv(var)
    return engines


def test_ppo_with_the_vllm_backend_syncs_merged_weights_before_every_rollout(tmp_path, monkeypatch) -> None:
    """``--rollout-backend vllm``: the engine plays every rollout, after the policy's current weights (LoRA merged
    in, under the base checkpoint's names) have been loaded into it and its prefix cache reset."""
    from transformers import AutoModelForCausalLM

    base = _base(tmp_path)
    original = dict(AutoModelForCausalLM.from_pretrained(base).named_parameters())
    engines = _fake_vllm(monkeypatch)
    cfg = _cfg(tmp_path, rollout_backend="vllm", use_peft=True, lora_r=4, lora_alpha=8, learning_rate=0.05)
    row = train_ppo(cfg)
    (engine,) = engines
    assert engine.kwargs["gpu_memory_utilization"] == 0.3 and engine.kwargs["logprobs_mode"] == "raw_logprobs"
    assert engine.kwargs["distributed_executor_backend"] == "external_launcher"  # in-process: its model is reachable
    assert row["update"] == 2 and engine.prompts >= 2 * cfg.episodes_per_update and row["outcomes"]
    assert 0 < row["trainable_params"] < row["params"]  # FLOPs count the whole model, not the adapters
    assert row["run_compute"]["train_flops"] == 6.0 * row["params"] * row["run_compute"]["train_tokens"]
    first, second = engine.syncs  # one sync before each rollout
    assert set(first) == set(second) == set(original)  # the base checkpoint's names: no PEFT prefix, no LoRA
    q = next(n for n in original if n.endswith("q_proj.weight"))
    assert torch.equal(first[q], original[q])  # LoRA starts at zero
    assert not torch.allclose(second[q], original[q])  # after an update the merged weights moved
    with pytest.raises(ValueError, match=r"rollout.backend"):
        _cfg(tmp_path, rollout_backend="sglang")


def test_grpo_rollouts_through_the_vllm_backend(tmp_path, monkeypatch) -> None:
    """GRPO's rollout_func with ``rollout_backend="vllm"``: one engine for the run, the weights synced before each
    rollout, the episodes played on its answers."""
    from types import SimpleNamespace as NS

    from gengap.gp.game import GeneralPoints
    from gengap.rl.grpo import episode_dataset, make_rollout_func

    base = _base(tmp_path)
    model, tok = build_tiny_lm(SMALL)
    engines = _fake_vllm(monkeypatch, answer="formula: 1+1")
    game = GeneralPoints(style="compact", verify_iter=2)
    dataset, lookup = episode_dataset(game, 2, seed=0)
    func = make_rollout_func(
        game, lookup, RLConfig(algo="grpo", model=str(base), verify_iter=2, rollout_backend="vllm")
    )
    accelerator = NS(unwrap_model=lambda m: m, process_index=0, local_process_index=0, num_processes=1)
    trainer = NS(model=model, accelerator=accelerator, processing_class=tok)
    prompts = [dataset[k % 2]["prompt"] for k in range(4)]
    for _ in range(2):
        out = func(prompts, trainer)
    (engine,) = engines
    assert len(engine.syncs) == 2 and set(engine.syncs[0]) == {n for n, _ in model.named_parameters()}
    assert engine.prompts == 2 * 4 * 2  # two rollouts of four episodes, each answered wrong twice
    r = game.rewards
    assert out["episode_return"] == [2 * r.wrong_numbers + r.budget_exhausted] * 4  # "1+1" uses cards not dealt
    with pytest.raises(ValueError, match=r"rollout.backend"):
        RLConfig(algo="grpo", rollout_backend="sglang")


def test_a_failed_start_claims_no_folder_and_spelt_out_defaults_resume(tmp_path) -> None:
    _base(tmp_path)
    with pytest.raises(FileNotFoundError):
        train_ppo(_cfg(tmp_path, model=str(tmp_path / "missing")))
    assert not (tmp_path / "ppo" / "gengap_run.json").exists()  # the folder is still free for a corrected run
    train_ppo(_cfg(tmp_path, updates=1, verify_iter=None, max_new_tokens=4))
    row = train_ppo(_cfg(tmp_path, updates=2, verify_iter=5, max_new_tokens=4))  # the game's default, spelt out
    assert row["update"] == 2
    with pytest.raises(ValueError, match=r"verify_iter"):  # the field that differs, not the group it is in
        train_ppo(_cfg(tmp_path, updates=3, verify_iter=4, max_new_tokens=4))
    # Under a decaying schedule the number of updates is part of the run: extending it is refused.
    train_ppo(_cfg(tmp_path, output_dir=str(tmp_path / "lin"), updates=1, lr_scheduler_type="linear"))
    with pytest.raises(ValueError, match="updates"):
        train_ppo(_cfg(tmp_path, output_dir=str(tmp_path / "lin"), updates=2, lr_scheduler_type="linear"))
