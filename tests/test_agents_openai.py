"""The OpenAI-compatible agent (the ``openai`` client) against a local chat-completions server (127.0.0.1, started here)."""
import asyncio
import time

import pytest

from feasgym.agents import AnswerRequest, make_agent
from feasgym.agents.arena import run_arena

from .openai_server import Completion, LoopbackChatServer, Raw


def answer_by_keyword(request):
    """Answers by the prompt's keyword: ok, fail500, flaky (500 once), slow, notjson, bad400; AC-OPF prompts 500 once."""
    prompt, n = request.prompt, request.n
    if "fail500" in prompt or ("flaky" in prompt and n == 1) or ("AC optimal power flow" in prompt and n == 1):
        return Raw(500, b"internal error")
    if "bad400" in prompt:
        return Raw(400, b'{"error": "bad request"}')
    if "slow" in prompt:
        time.sleep(0.6)
    if "notjson" in prompt:
        return Raw(200, b"<html>")
    if "wait" in prompt:
        time.sleep(0.15)
    return Completion(f"echo {request.body['model']}: {prompt}", prompt_tokens=len(prompt.split()), completion_tokens=3)


@pytest.fixture
def server():
    with LoopbackChatServer(answer_by_keyword) as s:
        yield s


def _agent(server, **kwargs):
    kwargs = {"timeout_s": 0.3, "max_retries": 1, "backoff_s": 0.01, **kwargs}
    return make_agent(f"openai:tiny-model@{server.url}", **kwargs)


def test_answers_errors_and_retries(server, monkeypatch):
    monkeypatch.setenv("FEASGYM_TEST_KEY", "sk-test")
    agent = _agent(server, api_key_env="FEASGYM_TEST_KEY", concurrency=4)
    prompts = ["ok one", "fail500 two", "flaky three", "slow four", "notjson five", "bad400 six"]
    replies = agent.act([AnswerRequest(p) for p in prompts])
    ok, fail, flaky, slow, notjson, bad = replies
    assert ok.text == "echo tiny-model: ok one" and ok.error is None
    assert (ok.prompt_tokens, ok.completion_tokens, ok.finish_reason) == (2, 3, "stop")
    assert fail.text == "" and "HTTP 500" in fail.error and "2 attempts" in fail.error
    assert server.calls["fail500 two"] == 2  # retried once, then recorded
    assert flaky.error is None and flaky.text.endswith("flaky three") and flaky.extra["attempts"] == 2
    assert "timeout" in slow.error and slow.text == ""
    assert "not JSON" in notjson.error and server.calls["notjson five"] == 1
    assert "HTTP 400" in bad.error and server.calls["bad400 six"] == 1  # client errors are not retried
    assert set(server.auth) == {"Bearer sk-test"}


def test_concurrency_is_limited(server):
    agent = _agent(server, concurrency=2, api_key_env="FEASGYM_UNSET_KEY_FOR_TEST")
    replies = agent.act([AnswerRequest(f"wait {i}") for i in range(6)])
    assert all(r.error is None for r in replies)
    assert [r.text for r in replies] == [f"echo tiny-model: wait {i}" for i in range(6)]
    assert server.max_active == 2 and server.auth == [None] * 6


def test_unreachable_server_is_an_error_per_episode():
    agent = make_agent("openai:m@http://127.0.0.1:9/v1", timeout_s=0.5, max_retries=0)
    reply = agent.act([AnswerRequest("hello")])[0]
    assert reply.text == "" and "connection error" in reply.error


def test_openai_agent_in_the_arena_records_errors_and_redoes_them(server, tmp_path):
    # every AC-OPF prompt fails once with HTTP 500: without retries each episode records its error and the
    # run goes on; a resumed run with redo_errors asks again and replaces the errored rows
    env_id = "feasgym/ACOPF-case5-v0"
    summary = run_arena([env_id], {"api": _agent(server, max_retries=0, concurrency=2)}, episodes=2,
                        out_dir=tmp_path, progress=False)
    stats = summary["envs"][env_id]["agents"]["api"]
    assert stats["n"] == 2 and stats["errors"] == 2 and stats["format"]["mean"] == 0.0
    summary = run_arena([env_id], {"api": _agent(server, max_retries=0, concurrency=2)}, episodes=2,
                        out_dir=tmp_path, progress=False, redo_errors=True)
    stats = summary["envs"][env_id]["agents"]["api"]
    assert stats["n"] == 2 and stats["errors"] == 0 and stats["mean_completion_tokens"] == 3
    assert sum(server.calls.values()) == 4


def test_request_body_carries_system_prompt_sampling_and_extra_body(server):
    agent = _agent(server, system_prompt="You are terse.", seed=7, top_p=0.9, max_tokens=64, temperature=0.2,
                   extra_body={"chat_template_kwargs": {"enable_thinking": False}, "temperature": 0.5})
    reply = agent.act([AnswerRequest("ok body")])[0]
    assert reply.error is None
    body = server.bodies[-1]
    assert body["model"] == "tiny-model" and body["max_tokens"] == 64 and body["seed"] == 7 and body["top_p"] == 0.9
    assert body["messages"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "ok body"}]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["temperature"] == 0.5  # extra_body wins over the agent's own fields, as documented
    plain = _agent(server)
    plain.act([AnswerRequest("ok plain")])
    assert "seed" not in server.bodies[-1] and "top_p" not in server.bodies[-1]
    assert [m["role"] for m in server.bodies[-1]["messages"]] == ["user"]
    agent.close()
    plain.close()


def test_act_from_inside_a_running_event_loop_and_after_close(server):
    agent = _agent(server, concurrency=3)

    async def inside():  # a notebook cell runs in a live loop; act must not need asyncio.run
        return agent.act([AnswerRequest(f"ok loop {i}") for i in range(5)])

    replies = asyncio.run(inside())
    assert [r.text for r in replies] == [f"echo tiny-model: ok loop {i}" for i in range(5)]
    thread = agent._thread
    agent.close()
    assert not thread.is_alive()
    assert agent.act([AnswerRequest("ok again")])[0].text == "echo tiny-model: ok again"  # a closed agent restarts
    assert agent.act([]) == []
    agent.close()
