"""The OpenAI-compatible client over real HTTP, against a chat-completions server on 127.0.0.1."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from leed.demos import load_demos
from leed.dg.generate import generate_demos
from leed.dg.llm import LLMError, OpenAIChatClient, ReplayClient
from leed.dg.scripted import scripted_plan_text
from benchmark.envs import make_env

ENV = "lbf:Foraging-8x8-2p-2f-v3"
CLIENT_TIMEOUT_S = 1.0  # generous: the test machine is shared and slow under load


class ChatServer:
    """Answers POST /v1/chat/completions from a script: reply text, an HTTP status, or a stall."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                kind, value = server.script.pop(0) if server.script else ("status", 500)
                if kind == "stall":
                    time.sleep(value)
                    kind, value = "status", 500
                if kind == "status":
                    self.send_response(value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": value}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(script):
        servers.append(ChatServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def first_state_plan(seed=0):
    env = make_env(ENV, 2, num_envs=1)
    env.reset(seed=seed)
    return scripted_plan_text(env.describe(0))


def client(server, tmp_path, **kw):
    kw.setdefault("max_retries", 4)
    return OpenAIChatClient(server.base_url, "test-model", api_key_env="LEED_TEST_KEY", timeout_s=CLIENT_TIMEOUT_S,
                            backoff_s=0.01, cache_dir=tmp_path / "cache", **kw)


def generate(c, out, rounds=1, episodes=1):
    return generate_demos(lambda: make_env(ENV, 2, num_envs=1), ENV, 2, out, episodes=episodes,
                          generator="llm", client=c, rounds=rounds, temperature=0.0)


def records(path):
    return [json.loads(line) for line in (path / "prompts.jsonl").read_text().splitlines()]


def test_good_reply_becomes_demos_after_malformed_reply_and_transient_errors(serve, tmp_path, monkeypatch):
    monkeypatch.setenv("LEED_TEST_KEY", "sk-secret-123")
    good = first_state_plan()
    server = serve([("reply", "Sure! Agent_1 should load Food_1."), ("status", 429), ("status", 500),
                    ("stall", CLIENT_TIMEOUT_S * 2), ("reply", good)])
    path = generate(client(server, tmp_path), tmp_path / "demos")

    assert len(server.requests) == 5 and server.requests[0]["path"] == "/v1/chat/completions"
    assert all(r["auth"] == "Bearer sk-secret-123" for r in server.requests)
    assert server.requests[0]["body"]["model"] == "test-model"
    # the malformed reply was refused with its reason, and the reason went back to the model
    retry_prompt = server.requests[1]["body"]["messages"][-1]["content"]
    assert "Your reply was rejected: malformed plan: invalid JSON" in retry_prompt

    d = load_demos(path)
    m = d.manifest
    assert m["generator"]["kind"] == "llm" and m["generator"]["model"] == "test-model"
    assert d.episode_returns[0] >= 0.99 and m["rejected_replies"] == 1
    assert m["cost"]["tokens"] == 240 and m["cost"]["llm_calls"] == 2 and m["cost"]["llm_seconds"] > 0

    llm = [r for r in records(path) if r["kind"] == "llm"]
    assert [r["accepted"] for r in llm] == [False, True]
    assert llm[0]["rejected"].startswith("malformed plan") and llm[0]["reply"].startswith("Sure!")
    assert llm[1]["reply"] == good and llm[1]["transient_errors"] == ["HTTP 429", "HTTP 500", f"timeout after {CLIENT_TIMEOUT_S:g} s"]
    assert llm[1]["messages"] == server.requests[4]["body"]["messages"]  # the prompt as sent
    card = (path / "README.md").read_text()
    for f in path.iterdir():
        assert "sk-secret-123" not in f.read_text(errors="replace")
    assert "LLM (llm)" in card and "test-model" in card


def test_persistent_errors_are_retried_then_reported_and_nothing_is_written(serve, tmp_path):
    server = serve([("status", 500), ("status", 429), ("stall", CLIENT_TIMEOUT_S * 2)])
    with pytest.raises(LLMError) as err:
        generate(client(server, tmp_path, max_retries=2), tmp_path / "demos")
    assert f"failed after 3 attempts: HTTP 500; HTTP 429; timeout after {CLIENT_TIMEOUT_S:g} s" in str(err.value)
    assert server.base_url in str(err.value) and "\n" not in str(err.value)
    assert len(server.requests) == 3 and not (tmp_path / "demos").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_client_errors_are_not_retried(serve, tmp_path):
    server = serve([("status", 401)])
    with pytest.raises(LLMError, match="refused the request: HTTP 401"):
        generate(client(server, tmp_path), tmp_path / "demos")
    assert len(server.requests) == 1


def test_refinement_feeds_back_failures_and_keeps_the_best_round(serve, tmp_path):
    good = first_state_plan()
    lazy = json.dumps([["Hold", "-", "Agent_1"], ["Hold", "-", "Agent_2"]])
    server = serve([("reply", lazy), ("reply", good), ("reply", lazy)])
    path = generate(client(server, tmp_path), tmp_path / "demos", rounds=3)
    assert len(server.requests) == 2  # round 2 reached the best possible return: no third round
    feedback = server.requests[1]["body"]["messages"][-1]["content"]
    assert "achieved a team return of 0.000 (the best possible is 1)" in feedback and "NOT completed" in feedback
    assert lazy in feedback
    results = [r for r in records(path) if r["kind"] == "result"]
    assert [round(r["team_return"], 3) for r in results] == [0.0, 1.0]
    assert load_demos(path).episode_returns[0] >= 0.99


def test_reply_cache_makes_a_rerun_free_and_replay_reproduces_the_set(serve, tmp_path):
    good = first_state_plan()
    server = serve([("reply", good)])
    first = generate(client(server, tmp_path), tmp_path / "a")
    again = generate(client(server, tmp_path), tmp_path / "b")  # same prompt: served from the cache
    assert len(server.requests) == 1
    assert load_demos(again).manifest["cost"]["tokens"] == 0
    assert load_demos(again).manifest["cost"]["llm_cached_calls"] == 1
    replayed = generate_demos(lambda: make_env(ENV, 2, num_envs=1), ENV, 2, tmp_path / "c", episodes=1,
                              generator="replay", client=ReplayClient(first / "prompts.jsonl"))
    assert np.array_equal(load_demos(replayed).action, load_demos(first).action)


def test_cli_llm_and_replay_generators(serve, tmp_path, capsys, monkeypatch):
    from benchmark.cli import main

    monkeypatch.setenv("LEED_BENCH_CACHE", str(tmp_path / "cache"))
    env = make_env(ENV, 2, num_envs=1)
    env.reset(seed=0)
    good = scripted_plan_text(env.describe(0))
    server = serve([("status", 500), ("reply", good)])
    assert main(["demos", "generate", "--env", ENV, "--episodes", "1", "--out", str(tmp_path / "llm"),
                 "--generator", "llm", "--base-url", server.base_url, "--model", "m1", "--api-key-env", "NO_SUCH_KEY",
                 "--rounds", "2", "--temperature", "0.2", "--timeout", "5"]) == 0
    out = capsys.readouterr().out
    assert "generator llm (m1)" in out and "120 tokens, 1 LLM calls" in out
    assert server.requests[-1]["body"]["temperature"] == 0.2 and server.requests[-1]["auth"] is None
    gen = load_demos(tmp_path / "llm").manifest["generator"]
    assert (gen["kind"], gen["model"], gen["temperature"], gen["rounds"]) == ("llm", "m1", 0.2, 2)

    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([good]))
    assert main(["demos", "generate", "--env", ENV, "--episodes", "1", "--out", str(tmp_path / "replay"),
                 "--generator", "replay", "--replies", str(replies)]) == 0
    assert np.array_equal(load_demos(tmp_path / "replay").action, load_demos(tmp_path / "llm").action)
    assert main(["demos", "generate", "--env", ENV, "--episodes", "1", "--out", str(tmp_path / "r2"),
                 "--generator", "replay", "--replies", str(tmp_path / "absent.json")]) == 2
    assert "absent.json cannot be read" in capsys.readouterr().err
