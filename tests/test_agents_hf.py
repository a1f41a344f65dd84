"""The HF agent on a tiny random-init GPT-2 built here (offline): batching, truncation, templates, PEFT."""
import json

import gymnasium as gym
import pytest

import feasgym  # noqa: F401
from feasgym.agents import AnswerRequest, make_agent
from feasgym.agents.arena import run_arena

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ENV_ID = "feasgym/ACOPF-case5-v0"


def case5_prompts(n=2):
    env = gym.make(ENV_ID, split="test")
    return [env.reset(seed=0, options={"instance": k})[0] for k in range(n)]


def build_tiny_lm(folder, texts, n_positions=2048, chat_template=None):
    """Byte-level BPE trained on ``texts`` and a 2-layer GPT-2, saved like any hub checkpoint."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=1000, special_tokens=["<|endoftext|>"], show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    if chat_template:
        tok.chat_template = chat_template
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tok), n_positions=n_positions, n_embd=32, n_layer=2, n_head=2,
                        eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def prompts():
    return case5_prompts(3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, prompts):
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"), prompts + ['{"generators": {"G1": {"p_mw": 1.0}}}'])


def test_batched_generation_matches_one_at_a_time(tiny, prompts):
    # prompts of different lengths, so the batch is left-padded
    texts = [prompts[0], prompts[1][:900], "Answer in JSON: {"]
    agent = make_agent(f"hf:{tiny}", max_new_tokens=6, batch_size=3, device="cpu")
    assert agent.config["chat_template"] is False and agent.config["device"] == "cpu"
    batched = agent.act([AnswerRequest(t) for t in texts])
    single = make_agent(f"hf:{tiny}", max_new_tokens=6, batch_size=1, device="cpu").act(
        [AnswerRequest(t) for t in texts])
    assert [r.text for r in batched] == [r.text for r in single]
    for reply, text in zip(batched, texts):
        assert reply.error is None and not reply.truncated_prompt
        assert 1 <= reply.completion_tokens <= 6 and reply.prompt_tokens == len(agent.encode(text))
        assert reply.finish_reason in ("stop", "length") and reply.latency_s > 0


def test_sampling_is_seeded(tiny):
    def sample(seed):
        agent = make_agent(f"hf:{tiny}", max_new_tokens=8, do_sample=True, temperature=1.5, seed=seed)
        return [r.text for r in agent.act([AnswerRequest("The grid:")] * 4)]

    first = sample(1)
    assert first == sample(1)
    assert first != sample(2) or len(set(first)) > 1


def test_truncation_is_explicit(tiny, prompts):
    agent = make_agent(f"hf:{tiny}", max_new_tokens=8, max_context_tokens=64)
    reply = agent.act([AnswerRequest(prompts[0])])[0]
    assert reply.truncated_prompt and reply.error is None
    assert reply.prompt_tokens <= 64 - 8 and reply.extra["prompt_tokens_dropped"] > 0
    # the end of the prompt (the answer layout) is what is kept
    kept = agent.tokenizer.decode(agent.fit_prompt(prompts[0])[0])
    assert prompts[0].endswith(kept[-40:])
    strict = make_agent(f"hf:{tiny}", max_new_tokens=8, max_context_tokens=64, truncation="error")
    reply = strict.act([AnswerRequest(prompts[0]), AnswerRequest("short")])
    assert reply[0].truncated_prompt and "tokens" in reply[0].error and reply[0].text == ""
    assert reply[1].error is None and not reply[1].truncated_prompt
    with pytest.raises(ValueError, match="no room"):
        make_agent(f"hf:{tiny}", max_new_tokens=64, max_context_tokens=64)


def test_chat_template_is_used_when_present(tmp_path, prompts):
    template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
                "{% if add_generation_prompt %}<assistant>{% endif %}")
    folder = build_tiny_lm(tmp_path / "chat", prompts[:1], chat_template=template)
    agent = make_agent(f"hf:{folder}", max_new_tokens=4, system_prompt="Be exact.")
    assert agent.config["chat_template"] is True
    text = agent.tokenizer.decode(agent.encode("Solve it."))
    assert text == "<system>Be exact.</system><user>Solve it.</user><assistant>"
    assert agent.act([AnswerRequest("Solve it.")])[0].error is None
    # truncation cuts the prompt text, never the template around it
    short = make_agent(f"hf:{folder}", max_new_tokens=4, system_prompt="Be exact.", max_context_tokens=60)
    ids, dropped = short.fit_prompt(prompts[0])
    kept = short.tokenizer.decode(ids)
    assert dropped > 0 and len(ids) <= 56
    assert kept.startswith("<system>Be exact.</system><user>") and kept.endswith("</user><assistant>")
    plain = make_agent(f"hf:{folder}", max_new_tokens=4, use_chat_template=False)
    assert plain.tokenizer.decode(plain.encode("Solve it.")) == "Solve it."


def test_peft_adapter_folder_loads_on_its_base(tiny, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["c_attn"], lora_alpha=16))
    torch.manual_seed(1)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.5)  # a trained-looking adapter: it changes the outputs
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny)

    texts = ["The grid has 5 buses.", "Answer in JSON"]
    agent = make_agent(f"hf:{adapter}", max_new_tokens=6)  # no tokenizer in the folder: taken from the base
    with_adapter = [r.text for r in agent.act([AnswerRequest(t) for t in texts])]
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), adapter).eval()
    tok = AutoTokenizer.from_pretrained(tiny)
    expected = []
    for t in texts:
        ids = tok(t, return_tensors="pt")
        out = reference.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.eos_token_id)
        expected.append(tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    assert with_adapter == expected
    base_texts = [r.text for r in make_agent(f"hf:{tiny}", max_new_tokens=6).act([AnswerRequest(t) for t in texts])]
    assert base_texts != with_adapter


def test_hf_agent_in_the_arena(tiny, tmp_path):
    summary = run_arena([ENV_ID], {"tiny": make_agent(f"hf:{tiny}", max_new_tokens=8, batch_size=2),
                                   "oracle": "oracle"}, episodes=3, out_dir=tmp_path, progress=False)
    tiny_stats = summary["envs"][ENV_ID]["agents"]["tiny"]
    assert tiny_stats["n"] == 3 and tiny_stats["errors"] == 0
    assert 1 <= tiny_stats["mean_completion_tokens"] <= 8 and tiny_stats["mean_prompt_tokens"] > 50
    assert tiny_stats["feasible"]["mean"] == 0.0  # a random-init model does not solve AC-OPF
    assert summary["timing"]["generation_s"] > 0 and summary["timing"]["scoring_s"] > 0
    rows = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert all(r["completion_tokens"] is not None for r in rows if r["agent"] == "tiny")
