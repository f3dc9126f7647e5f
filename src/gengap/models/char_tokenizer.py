"""A character-level tokenizer built in code: no download, a vocabulary of about a hundred symbols.

Tiny models cannot afford to learn sub-word merges, and a character vocabulary makes every digit and
operator its own token, which is what arithmetic needs. Built with the ``tokenizers`` library and wrapped in
``PreTrainedTokenizerFast`` so that ``save_pretrained`` / ``from_pretrained`` and chat templates work as for
any Hugging Face model.
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from gengap.models.chat_template import ASSISTANT, CHAT_TEMPLATE, END, IMAGE, USER

PAD, UNK, BOS = "<pad>", "<unk>", "<bos>"
SPECIAL_TOKENS = [PAD, UNK, BOS, END, USER, ASSISTANT, "<|system|>", IMAGE]
CHARACTERS = string.printable[:-2] + "♠♣♥♦×÷−"  # printable ASCII without \x0b \x0c, plus card symbols


def build_char_tokenizer() -> PreTrainedTokenizerFast:
    """The tokenizer of ``tiny-lm`` and ``tiny-vlm``; identical on every machine."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in CHARACTERS:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=END,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[USER, ASSISTANT, "<|system|>", IMAGE],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
