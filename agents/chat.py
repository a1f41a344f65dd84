"""The prompt as a model reads it, written once for the HF agent and for training (SFT, GRPO), so a model
is trained on exactly the text it is later asked with."""
from __future__ import annotations


def chat_messages(prompt: str, system_prompt: str | None = None) -> list[dict]:
    """One user message, after the system prompt when there is one."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": prompt}]


def prompt_text(tokenizer, prompt: str, *, system_prompt: str | None = None,
                use_chat_template: bool | None = None) -> str:
    """Through the tokenizer's chat template (generation prompt added) when it has one, unless told not to;
    otherwise the plain prompt after the system prompt."""
    if use_chat_template is None:
        use_chat_template = bool(getattr(tokenizer, "chat_template", None))
    if use_chat_template:
        return tokenizer.apply_chat_template(chat_messages(prompt, system_prompt), tokenize=False,
                                             add_generation_prompt=True)
    return f"{system_prompt}\n\n{prompt}" if system_prompt else prompt
