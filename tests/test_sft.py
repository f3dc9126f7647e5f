from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from gengap.gp import GeneralPoints  # noqa: E402
from gengap.gp.expert import write_dataset  # noqa: E402
from gengap.models.tiny import TinyLMConfig, build_tiny_lm  # noqa: E402
from gengap.train.sft import SFTRunConfig, load_conversations, train  # noqa: E402

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=256)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("data") / "gp.jsonl"
    write_dataset(GeneralPoints(style="compact"), path, n=64, seed=0, progress=False)
    return str(path)


def run(data: str, out, steps: int, **kw) -> object:
    model, tok = build_tiny_lm(SMALL)
    cfg = SFTRunConfig(
        data=[data],
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=8,
        learning_rate=3e-3,
        save_steps=kw.pop("save_steps", 100),
        logging_steps=1,
        **kw,
    )
    return train(cfg, model=model, tokenizer=tok, parent={"model": "test-base", "compute": {"train_flops": 100.0}})


def test_sft_lowers_the_loss_and_accounts_compute(data, tmp_path) -> None:
    trainer = run(data, tmp_path / "a", 12)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3
    meta = json.loads((tmp_path / "a" / "gengap.json").read_text())
    tokens = trainer.state.num_input_tokens_seen
    n = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    assert meta["run_compute"]["train_tokens"] == tokens > 0
    assert meta["run_compute"]["train_flops"] == 6.0 * n * tokens
    assert meta["compute"]["train_flops"] == 6.0 * n * tokens + 100.0  # the parent's spend carried forward
    assert meta["step"] == 12 and meta["parent"]["model"] == "test-base"


def test_resume_continues_at_the_same_step_and_ends_identical(data, tmp_path) -> None:
    full = run(data, tmp_path / "full", 6, save_steps=3)
    ref = {k: v.clone() for k, v in full.model.state_dict().items()}
    assert json.loads((tmp_path / "full" / "checkpoint-3" / "gengap.json").read_text())["step"] == 3
    # Simulate a crash after step 3: only checkpoint-3 survives.
    shutil.rmtree(tmp_path / "full" / "checkpoint-6")
    (tmp_path / "full" / "model.safetensors").unlink()
    resumed = run(data, tmp_path / "full", 6, save_steps=3)
    steps_run = [h["step"] for h in resumed.state.log_history if "loss" in h]
    assert steps_run[0] == 1 and resumed.state.global_step == 6  # history restored, training went 4..6
    assert resumed.state.num_input_tokens_seen == full.state.num_input_tokens_seen
    for k, v in resumed.model.state_dict().items():
        assert torch.allclose(v, ref[k], atol=1e-6), k


def test_lora_trains_only_adapters(data, tmp_path) -> None:
    trainer = run(data, tmp_path / "lora", 2, use_peft=True, lora_r=4)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n in trainable)
    assert (tmp_path / "lora" / "adapter_config.json").is_file()


def test_lora_and_full_runs_count_the_same_flops_per_token(data, tmp_path) -> None:
    """The FLOPs axis uses the model's total size (the paper fully fine-tunes); LoRA records its trainable count."""
    full = run(data, tmp_path / "full", 2)
    lora = run(data, tmp_path / "lora", 2, use_peft=True, lora_r=4)
    metas = [json.loads((tmp_path / name / "gengap.json").read_text()) for name in ("full", "lora")]
    n_total = sum(p.numel() for p in build_tiny_lm(SMALL)[0].parameters())
    for trainer, meta in zip((full, lora), metas, strict=True):
        tokens = trainer.state.num_input_tokens_seen
        assert meta["params"] == n_total and meta["run_compute"]["train_tokens"] == tokens > 0
        assert meta["run_compute"]["train_flops"] == 6.0 * n_total * tokens
    assert metas[0]["run_compute"] == metas[1]["run_compute"]  # same data, same tokens, same FLOPs
    assert metas[0]["trainable_params"] == n_total > metas[1]["trainable_params"] > 0


def test_bad_data_is_reported(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="gengap data"):
        load_conversations([str(tmp_path / "nope.jsonl")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hello"}\n')
    with pytest.raises(ValueError, match="messages"):
        load_conversations([str(bad)])


def test_resume_refuses_a_changed_run(data, tmp_path) -> None:
    run(data, tmp_path / "r", 2)
    with pytest.raises(ValueError, match="learning_rate"):
        model, tok = build_tiny_lm(SMALL)
        cfg = SFTRunConfig(
            data=[data],
            output_dir=str(tmp_path / "r"),
            max_steps=2,
            per_device_train_batch_size=8,
            learning_rate=1e-4,
            logging_steps=1,
        )
        train(cfg, model=model, tokenizer=tok)


def test_vision_sft_on_gp_vl_data(tmp_path) -> None:
    from gengap.models.tiny import TinyVLMConfig, build_tiny_vlm
    from gengap.models.vlm import VisionTowerConfig

    path = tmp_path / "vl.jsonl"
    write_dataset(GeneralPoints(vision=True, style="compact", image_size=64), path, n=16, progress=False)
    ds = load_conversations([str(path)])
    assert ds.column_names == ["messages", "images"] and ds[0]["images"][0].size == (64, 64)
    model, proc = build_tiny_vlm(TinyVLMConfig(text=SMALL, vision=VisionTowerConfig(image_size=64, hidden_size=32)))
    before = {k: v.clone() for k, v in model.named_parameters() if "vision" in k}
    cfg = SFTRunConfig(
        data=[str(path)],
        output_dir=str(tmp_path / "out"),
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        logging_steps=1,
    )
    trainer = train(cfg, model=model, tokenizer=proc)
    assert trainer.state.global_step == 3
    assert any(not torch.equal(v, before[k]) for k, v in trainer.model.named_parameters() if k in before)
    assert (tmp_path / "out" / "processor_config.json").is_file() or (
        tmp_path / "out" / "preprocessor_config.json"
    ).is_file()


def test_eval_log_keeps_one_row_per_step(data, tmp_path) -> None:
    from types import SimpleNamespace

    from gengap.train.callbacks import ComputeCallback, EvalCallback

    model, tok = build_tiny_lm(SMALL)
    compute = ComputeCallback({}, {})
    cb = EvalCallback(tok, GeneralPoints(style="compact", verify_iter=1), ["id"], 2, 1, compute, max_new_tokens=4)
    state = SimpleNamespace(global_step=3, num_input_tokens_seen=10)
    for _ in range(2):  # a resumed run evaluates step 3 again
        cb.evaluate(model, state, str(tmp_path))
    state.global_step = 4
    cb.evaluate(model, state, str(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 4] and "success" in rows[0]["id"]


def test_sft_on_virl_expert_data(tmp_path) -> None:
    from gengap.virl.expert import write_dataset as write_virl
    from gengap.virl.game import VIRL

    path = write_virl(VIRL(world="grid", style="compact"), tmp_path / "virl.jsonl", n=3, kind="optimal", progress=False)
    model, tok = build_tiny_lm(
        TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=2048)
    )
    cfg = SFTRunConfig(
        data=[str(path)],
        output_dir=str(tmp_path / "out"),
        max_steps=10,
        max_length=2048,
        per_device_train_batch_size=8,
        learning_rate=3e-3,
        logging_steps=1,
        save_steps=100,
    )
    trainer = train(cfg, model=model, tokenizer=tok, parent={})
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3


def test_data_that_truncation_empties_is_refused_before_the_folder_is_claimed(data, tmp_path) -> None:
    # max_length 8 cuts every prompt before its answer: nothing is left to learn from.
    with pytest.raises(ValueError, match="--max-length 8"):
        run(data, tmp_path / "cut", 2, max_length=8)
    assert not (tmp_path / "cut" / "gengap_run.json").exists()
