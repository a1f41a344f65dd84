"""The embedded base model taught to open its reply with a tool call (shared by the tool tests)."""
from __future__ import annotations

from feasgym.envs.tools import render_tool_call


def first_call(env) -> str:
    """The call the trained model is taught (short: a 2-layer model learns it from the prompt's tail in seconds)."""
    return render_tool_call("check", {"answer": {}})


def taught_model(folder, env):
    """The embedded base (feasgym's tokenizer and template, a tiny Llama), taught to open its reply with a call.

    It is trained on the last 8-64 tokens of instance 0's rendered conversation (full-length rows
    cost seconds per step on 2 cores) and answers the full conversation the same way (rotary positions)."""
    import torch

    from feasgym.agents.tool_template import render_conversation
    from feasgym.agents.training.base_model import EOS, TinyModelSpec, build_base_model

    prompt, _ = env.reset(seed=0, options={"instance": 0})
    call = first_call(env)
    result = env.step(call)[0]  # the tool's answer: in the tokenizer's texts, so it is a few tokens in a completion
    prompt, _ = env.reset(seed=0, options={"instance": 0})
    folder = build_base_model([prompt, call, result, env.unwrapped.reference_answer()], folder,
                              TinyModelSpec(num_layers=2, hidden_size=64, num_heads=2, max_positions=4096, vocab_size=2048))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    context = render_conversation(tok, [{"role": "user", "content": prompt}], env.unwrapped.tool_schemas)
    ctx_ids = tok(context, add_special_tokens=False)["input_ids"]
    target = tok(call + EOS, add_special_tokens=False)["input_ids"]
    rows = [ctx_ids[-w:] + target for w in (8, 16, 32, 64)]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tok.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row), 1
        labels[i, len(row) - len(target):len(row)] = torch.tensor(target)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(200):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    model.save_pretrained(folder)
    return folder, prompt, call
