"""How fast does a vision tower around a pretrained ``tiny-lm`` learn to read cards? (exploration, not a test)

A raw training loop on the card-naming corpus with knobs the pretraining command does not expose, reporting
per-card accuracy (each position of the answer list against the truth) on fixed held-out tables every few
steps. Used to choose the design of ``gengap pretrain --model tiny-vlm``.

    python benchmarks/vision_probe.py --base runs/g24c/base --steps 300 --freeze-lm
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from gengap.gp.cards import RANKS, SUIT_SYMBOLS, SUITS, Hand
from gengap.gp.render import render_table
from gengap.models.generation import SamplingConfig, generate
from gengap.models.registry import load
from gengap.models.vlm import VisionTowerConfig, attach_vision
from gengap.train.vision_tower import TowerPretrainConfig, pretrain_tower

PROMPT = "name the cards"


def example(rng: random.Random, size: int, n_min: int, n_max: int) -> tuple[list[dict], list[str], object]:
    n = rng.randint(n_min, n_max)
    hand = Hand(tuple(rng.choice(RANKS) for _ in range(n)), tuple(rng.choice(SUITS) for _ in range(n)))
    names = [f"{r}{SUIT_SYMBOLS[s]}" for r, s in zip(hand.ranks, hand.suits, strict=True)]
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}
    return [user], names, render_table(hand, size)


def batch_inputs(processor, rows):
    tok = processor.tokenizer
    tok.padding_side = "right"
    fulls, prompts = [], []
    for msgs, names, _ in rows:
        answer = {"role": "assistant", "content": [{"type": "text", "text": "cards: " + " ".join(names)}]}
        fulls.append(tok.apply_chat_template([*msgs, answer], tokenize=False))
        prompts.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
    images = [img for *_, img in rows]
    enc = processor(text=fulls, images=images, return_tensors="pt", padding=True)
    labels = enc["input_ids"].clone()
    for i, p in enumerate(prompts):
        n = len(processor(text=[p], images=[images[i]], return_tensors="pt")["input_ids"][0])
        labels[i, :n] = -100
    labels[enc["attention_mask"] == 0] = -100
    enc["labels"] = labels
    return enc


def card_accuracy(model, processor, rows) -> tuple[float, float]:
    out = generate(
        model, processor, [m for m, _, _ in rows], SamplingConfig(max_new_tokens=32), images=[[i] for *_, i in rows]
    )
    right = total = exact = 0
    for c, (_, names, _) in zip(out, rows, strict=True):
        said = c.text.replace("cards:", "").split()
        total += len(names)
        right += sum(a == b for a, b in zip(said, names, strict=False))
        exact += said == names
    return right / total, exact / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="runs/g24c/base")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lm-lr", type=float, default=0.0, help="0 freezes the language model")
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--cards", default="1,6")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--out", default=None)
    ap.add_argument("--tower-steps", type=int, default=0)
    ap.add_argument("--corpus", action="store_true", help="train on gengap's vision corpus rows")
    ap.add_argument("--tower-from", default=None, help="a vision_tower/model.safetensors from gengap pretrain")
    ap.add_argument("--joint-tower-lr", type=float, default=0.0, help="tower lr in the joint stage; 0 = --lr")
    ap.add_argument("--tower-lr", type=float, default=2e-3)
    ap.add_argument("--tower-batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n_min, n_max = map(int, a.cards.split(","))
    lm = load(a.base)
    tower = VisionTowerConfig(image_size=a.size, patch_size=a.patch, hidden_size=a.width, num_layers=a.layers)
    model, processor = attach_vision(lm.model, lm.tokenizer, tower)
    if a.tower_from:
        import safetensors.torch

        safetensors.torch.load_model(model.model.vision_tower, a.tower_from)
    if a.tower_steps:
        report = pretrain_tower(
            model,
            processor,
            TowerPretrainConfig(
                steps=a.tower_steps, batch_size=a.tower_batch, learning_rate=a.tower_lr, max_cards=n_max
            ),
        )
        print(json.dumps({k: report[k] for k in ("patch_rank_accuracy", "patch_suit_accuracy")}), flush=True)
    lm_params = list(model.model.language_model.parameters()) + list(model.lm_head.parameters())
    lm_ids = {id(p) for p in lm_params}
    tower_ids = {id(p) for p in model.model.vision_tower.parameters()}
    proj = [p for p in model.parameters() if id(p) not in lm_ids and id(p) not in tower_ids]
    groups = [
        {"params": proj, "lr": a.lr},
        {"params": list(model.model.vision_tower.parameters()), "lr": a.joint_tower_lr or a.lr},
    ]
    if a.lm_lr > 0:
        groups.append({"params": lm_params, "lr": a.lm_lr})
    else:
        for p in lm_params:
            p.requires_grad_(False)
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * max(0.05, 1 - s / a.steps))
    rng = random.Random(1)
    corpus_rows = None
    if a.corpus:  # the rows ``gengap pretrain`` trains on (its three prompts), instead of fresh tables
        from gengap.train.corpus import vision_corpus

        corpus_rows = [
            (r["messages"][:1], r["messages"][1]["content"][0]["text"].replace("cards: ", "").split(), r["images"][0])
            for r in vision_corpus(a.steps * a.batch, a.size, 0, skills=("name_cards",))
        ]
    held4 = [example(random.Random(f"h4-{i}"), a.size, 4, 4) for i in range(48)]
    held = [example(random.Random(f"h-{i}"), a.size, n_min, n_max) for i in range(48)]
    t0 = time.perf_counter()
    log = []
    for step in range(1, a.steps + 1):
        model.train()
        if corpus_rows is not None:
            rows = corpus_rows[(step - 1) * a.batch : step * a.batch]
        else:
            rows = [example(rng, a.size, n_min, n_max) for _ in range(a.batch)]
        loss = model(**batch_inputs(processor, rows)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % a.eval_every == 0 or step == a.steps:
            model.eval()
            with torch.no_grad():
                acc, ex = card_accuracy(model, processor, held)
                acc4, ex4 = card_accuracy(model, processor, held4)
            rec = dict(
                step=step,
                s=round(time.perf_counter() - t0),
                loss=round(loss.item(), 3),
                card_acc=round(acc, 3),
                exact=round(ex, 3),
                card_acc4=round(acc4, 3),
                exact4=round(ex4, 3),
            )
            log.append(rec)
            print(json.dumps(rec), flush=True)
    if a.out:
        model.save_pretrained(a.out)
        processor.save_pretrained(a.out)


if __name__ == "__main__":
    main()
