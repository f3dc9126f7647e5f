"""The vision tower's own pretraining and the joint stage's slower tower (``gengap pretrain --model tiny-vlm``)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from gengap.gp.cards import RANKS, SUITS, Hand  # noqa: E402
from gengap.gp.render import card_boxes  # noqa: E402
from gengap.models.tiny import TinyLMConfig, TinyVLMConfig, build_tiny_vlm  # noqa: E402
from gengap.models.vlm import VisionTowerConfig  # noqa: E402
from gengap.train.vision_tower import TowerPretrainConfig, patch_labels, pretrain_tower  # noqa: E402

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=256)


def small_vlm():
    return build_tiny_vlm(TinyVLMConfig(text=SMALL, vision=VisionTowerConfig(image_size=64, hidden_size=32)))


def test_patch_labels_follow_the_renderers_card_boxes() -> None:
    hand = Hand(("K", "2", "10", "A"), ("hearts", "spades", "clubs", "diamonds"))
    ranks, suits = patch_labels([hand], 160, 16)
    assert ranks.shape == (1, 100)
    assert ranks[0, 0] == 0 and suits[0, 0] == 0  # the top-left corner is felt
    for (left, top, right, bottom), rank, suit in zip(card_boxes(4, 160), hand.ranks, hand.suits, strict=True):
        row, col = int((top + bottom) / 2) // 16, int((left + right) / 2) // 16
        assert ranks[0, row * 10 + col] == RANKS.index(rank) + 1
        assert suits[0, row * 10 + col] == SUITS.index(suit) + 1
    assert set(ranks[0].tolist()) == {0, *(RANKS.index(r) + 1 for r in hand.ranks)}


def test_tower_pretraining_trains_only_the_tower_and_reports_its_compute() -> None:
    model, proc = small_vlm()
    before = {k: v.clone() for k, v in model.named_parameters()}
    cfg = TowerPretrainConfig(steps=3, batch_size=4, warmup_steps=1)
    report = pretrain_tower(model, proc, cfg)
    changed = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    assert changed and all("vision_tower" in k for k in changed)
    assert set(before) == {k for k, _ in model.named_parameters()}  # the probe head is not left in the model
    n_tower = sum(p.numel() for p in model.model.vision_tower.parameters())
    assert report["flops"] == 6 * n_tower * 3 * 4 * ((64 // 16) ** 2 + 1)
    assert 0.0 <= report["patch_rank_accuracy"] <= 1.0 and report["steps"] == 3


def test_pretrained_tower_is_reused_not_retrained(tmp_path, monkeypatch) -> None:
    from gengap.train import pretrain as pretrain_module
    from gengap.train import vision_tower

    cfg = TowerPretrainConfig(steps=2, batch_size=2, warmup_steps=1)
    model, proc = small_vlm()
    first = pretrain_module._cached_tower(model, proc, cfg, tmp_path)
    assert json.loads((tmp_path / "vision_tower" / "report.json").read_text()) == first

    def refuse(*_a, **_k):
        raise AssertionError("the tower was trained again")

    monkeypatch.setattr(vision_tower, "pretrain_tower", refuse)
    again, proc2 = small_vlm()
    assert pretrain_module._cached_tower(again, proc2, cfg, tmp_path) == first
    for (k, a), (_, b) in zip(
        model.model.vision_tower.state_dict().items(), again.model.vision_tower.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    with pytest.raises(AssertionError, match="trained again"):  # other settings: trained anew
        pretrain_module._cached_tower(again, proc2, TowerPretrainConfig(steps=3, batch_size=2), tmp_path)


def test_joint_stage_moves_the_tower_at_its_own_rate(tmp_path) -> None:
    import datasets

    from gengap.train.corpus import vision_corpus
    from gengap.train.sft import SFTRunConfig, train

    model, proc = small_vlm()
    rows = list(vision_corpus(8, 64, seed=0, skills=("name_cards",)))
    ds = datasets.Dataset.from_list([{"messages": r["messages"], "images": r["images"]} for r in rows])
    before = {k: v.clone() for k, v in model.named_parameters()}
    cfg = SFTRunConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4, learning_rate=3e-3)
    trainer = train(cfg, model=model, tokenizer=proc, train_dataset=ds, lr_multipliers={"vision_tower": 0.0})
    lrs = sorted({g["initial_lr"] if "initial_lr" in g else g["lr"] for g in trainer.optimizer.param_groups})
    assert lrs == [0.0, 3e-3]
    moved = {k for k, v in trainer.model.named_parameters() if not torch.equal(v, before[k])}
    assert moved and not any("vision_tower" in k for k in moved)
    assert any("multi_modal_projector" in k for k in moved) and any("language_model" in k for k in moved)


def test_pretrain_vlm_end_to_end_writes_a_loadable_model_and_its_naming_scores(tmp_path) -> None:
    from gengap.models.registry import load
    from gengap.models.tiny import build_tiny_lm
    from gengap.train.pretrain import pretrain_vlm

    lm, tok = build_tiny_lm(SMALL)
    lm.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    out = pretrain_vlm(
        str(tmp_path / "base"),
        max_steps=2,
        batch_size=2,
        tower=TowerPretrainConfig(steps=2, batch_size=2, warmup_steps=1),
        image_size=64,
        output_dir=str(tmp_path / "vlm"),
        naming_n=3,
    )
    naming = json.loads((out / "naming.json").read_text())
    assert 0.0 <= naming["card_accuracy"] <= 1.0 and naming["chance_card_accuracy"] == pytest.approx(1 / 52, abs=1e-4)
    assert set(naming) >= {"card_lists_exact", "sign_recall", "intersection_accuracy"}
    meta = json.loads((out / "gengap.json").read_text())
    tower_report = json.loads((out / "vision_tower" / "report.json").read_text())
    assert meta["compute"]["flops"] >= tower_report["flops"] > 0  # the tower's own stage is counted
    loaded = load(str(out))
    assert hasattr(loaded.tokenizer, "image_processor")
