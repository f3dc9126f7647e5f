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

PROMPT = "name the cards"


def example(rng: random.Random, size: int, n_min: int, n_max: int) -> tuple[list[dict], list[str], object]:
    n = rng.randint(n_min, n_max)
    hand = Hand(tuple(rng.choice(RANKS) for _ in range(n)), tuple(rng.choice(SUITS) for _ in range(n)))
    names = [f"{r}{SUIT_SYMBOLS[s]}" for r, s in zip(hand.ranks, hand.suits, strict=True)]
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}
    return [user], names, render_table(hand, size)


def patch_labels(hand_sizes_ranks_suits, size: int, patch: int):
    """Per-patch (rank, suit) class of the card under each patch centre; 0 = felt."""
    from gengap.gp.render import card_boxes

    g = size // patch
    out = []
    for ranks, suits in hand_sizes_ranks_suits:
        r_lab = torch.zeros(g * g, dtype=torch.long)
        s_lab = torch.zeros(g * g, dtype=torch.long)
        for (left, top, right, bottom), rk, st in zip(card_boxes(len(ranks), size), ranks, suits, strict=True):
            for i in range(g):
                for j in range(g):
                    cx, cy = (j + 0.5) * patch, (i + 0.5) * patch
                    if left <= cx < right and top <= cy < bottom:
                        r_lab[i * g + j] = RANKS.index(rk) + 1
                        s_lab[i * g + j] = SUITS.index(st) + 1
        out.append((r_lab, s_lab))
    return torch.stack([a for a, _ in out]), torch.stack([b for _, b in out])


def pretrain_tower(model, processor, steps: int, batch: int, lr: float, size: int, patch: int, cards) -> None:
    """Stage 1: teach the tower alone, with a dense per-patch objective (which card lies under each patch)."""
    tower = model.model.vision_tower
    width = tower.config.hidden_size
    head = torch.nn.Linear(width, len(RANKS) + 1 + len(SUITS) + 1)
    params = list(tower.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    rng = random.Random(7)
    nr = len(RANKS) + 1
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        hands, images = [], []
        for _ in range(batch):
            n = rng.randint(*cards)
            ranks = tuple(rng.choice(RANKS) for _ in range(n))
            suits = tuple(rng.choice(SUITS) for _ in range(n))
            hands.append((ranks, suits))
            images.append(render_table(Hand(ranks, suits), size))
        px = processor.image_processor(images, return_tensors="pt")["pixel_values"]
        feats = tower(px).last_hidden_state[:, 1:]
        logits = head(feats)
        r_lab, s_lab = patch_labels(hands, size, patch)
        loss = torch.nn.functional.cross_entropy(logits[..., :nr].flatten(0, 1), r_lab.flatten())
        loss = loss + torch.nn.functional.cross_entropy(logits[..., nr:].flatten(0, 1), s_lab.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % 100 == 0 or step == steps:
            on = r_lab > 0
            racc = (logits[..., :nr].argmax(-1)[on] == r_lab[on]).float().mean().item()
            sacc = (logits[..., nr:].argmax(-1)[on] == s_lab[on]).float().mean().item()
            print(
                json.dumps(
                    dict(
                        tower_step=step,
                        s=round(time.perf_counter() - t0),
                        loss=round(loss.item(), 3),
                        rank_acc=round(racc, 3),
                        suit_acc=round(sacc, 3),
                    )
                ),
                flush=True,
            )


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
        pretrain_tower(model, processor, a.tower_steps, a.tower_batch, a.tower_lr, a.size, a.patch, (n_min, n_max))
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
