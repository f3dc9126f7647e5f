"""The chat template of the built-in models, with ``{% generation %}`` markers around assistant turns.

The markers let ``apply_chat_template(..., return_assistant_tokens_mask=True)`` (and TRL's
``assistant_only_loss``) put the loss on what the assistant wrote and on nothing else. Image parts of a
vision turn become the processor's image token.
"""

from __future__ import annotations

USER, ASSISTANT, END, IMAGE = "<|user|>", "<|assistant|>", "<|end|>", "<image>"

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set text = message['content'] -%}"
    "{%- else -%}{%- set text = namespace(v='') -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{%- set text.v = text.v + '" + IMAGE + "' -%}"
    "{%- else -%}{%- set text.v = text.v + part['text'] -%}{%- endif -%}"
    "{%- endfor -%}{%- set text = text.v -%}{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '" + ASSISTANT + "' }}{% generation %}{{ text }}{{ '" + END + "' }}{% endgeneration %}"
    "{%- else -%}"
    "{{ '<|' + message['role'] + '|>' }}{{ text }}{{ '" + END + "' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '" + ASSISTANT + "' }}{%- endif -%}"
)
