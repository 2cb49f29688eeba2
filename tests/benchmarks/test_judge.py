"""The judge client: configuration from the environment, the request it sends, retries with
backoff on rate limits, server errors and timeouts (bounded, with a clear last error), the
cache on disk, and a clear error when no endpoint is configured. A stub judge on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from judge_stub import StubJudge

from llava.benchmarks.judge import (
    OPENAI_BASE_URL,
    JudgeCache,
    JudgeClient,
    JudgeConfig,
    JudgeError,
    judge_config_from_env,
)

MESSAGES = [{"role": "user", "content": "Grade this."}]


def _client(base_url: str | None, cache: JudgeCache | None = None, **settings) -> JudgeClient:
    waits: list[float] = []
    config = JudgeConfig(base_url=base_url, api_key="k", backoff=0.5, **settings)
    client = JudgeClient(config, cache, sleep=waits.append)
    client.waits = waits  # what the client would have slept, for the tests
    return client


def _ask(client: JudgeClient, sample: int = 0, content: str = "Grade this."):
    messages = [{"role": "user", "content": content}]
    return client.complete(messages, model="judge-1", temperature=0.0, max_tokens=3, sample=sample)


def test_config_from_the_environment() -> None:
    config = judge_config_from_env(
        {"LLAVA_JUDGE_BASE_URL": "http://h/v1", "OPENAI_BASE_URL": "http://other/v1",
         "OPENAI_API_KEY": "sk-1", "LLAVA_JUDGE_MODEL": "m", "LLAVA_JUDGE_TIMEOUT": "5",
         "LLAVA_JUDGE_MAX_ATTEMPTS": "2", "LLAVA_JUDGE_BACKOFF": "0"}
    )  # fmt: skip
    assert config == JudgeConfig("http://h/v1", "sk-1", "m", timeout=5.0, max_attempts=2, backoff=0)
    assert config.judge_model("gpt-4-0314") == "m"
    openai = judge_config_from_env({"OPENAI_API_KEY": "sk-1"})
    assert (openai.base_url, openai.model, openai.judge_model("gpt-4-0314")) == (
        OPENAI_BASE_URL, None, "gpt-4-0314"
    )  # fmt: skip
    assert judge_config_from_env({}).base_url is None
    with pytest.raises(
        ValueError, match="LLAVA_JUDGE_MAX_ATTEMPTS='0': expected a whole number >= 1"
    ):
        judge_config_from_env({"LLAVA_JUDGE_MAX_ATTEMPTS": "0"})
    with pytest.raises(ValueError, match="LLAVA_JUDGE_TIMEOUT='soon'"):
        judge_config_from_env({"LLAVA_JUDGE_TIMEOUT": "soon"})


def test_no_endpoint_is_a_clear_error() -> None:
    with pytest.raises(JudgeError, match="no judge endpoint configured: set LLAVA_JUDGE_BASE_URL"):
        _ask(_client(None))


def test_the_request_and_the_reply() -> None:
    with StubJudge(lambda body: "0.5", model="judge-1-0613") as stub:
        judgement = _ask(_client(stub.base_url))
    assert (judgement.content, judgement.model) == ("0.5", "judge-1-0613")
    assert stub.requests == [
        {"model": "judge-1", "messages": MESSAGES, "temperature": 0.0, "max_tokens": 3}
    ]


def test_rate_limits_and_server_errors_are_retried_with_backoff() -> None:
    with StubJudge(lambda body: "0.5") as stub:
        stub.faults.extend([429, 500, 503])
        client = _client(stub.base_url)
        assert _ask(client).content == "0.5"
    assert len(stub.requests) == 4
    assert client.waits == [0.0, 1.0, 2.0]  # Retry-After: 0, then 0.5 x 2^(attempt - 1)


def test_retries_are_bounded_and_the_last_error_is_told() -> None:
    with StubJudge(lambda body: "0.5") as stub:
        stub.faults.extend([500] * 5)
        client = _client(stub.base_url, max_attempts=3, max_backoff=0.75)
        with pytest.raises(JudgeError, match=r"no usable reply in 3 attempt\(s\) \(last: HTTP 500"):
            _ask(client)
    assert len(stub.requests) == 3 and client.waits == [0.5, 0.75]


def test_client_errors_are_not_retried() -> None:
    with StubJudge(lambda body: "0.5") as stub:
        stub.faults.append(401)
        with pytest.raises(JudgeError, match="refused the request: HTTP 401"):
            _ask(_client(stub.base_url))
    assert len(stub.requests) == 1


def test_timeouts_and_refused_connections_are_retried() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = _client(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", timeout=0.2)
        with pytest.raises(JudgeError, match=r"6 attempt\(s\) \(last: .*timed out"):
            _ask(client)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(JudgeError, match="refused"):
        _ask(_client(f"http://127.0.0.1:{port}/v1", max_attempts=2))


def test_null_content_is_an_empty_reply() -> None:
    with StubJudge(lambda body: None) as stub:
        assert _ask(_client(stub.base_url)).content == ""


def test_the_cache_answers_repeated_requests_and_keeps_samples_apart(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    with StubJudge(lambda body: f"reply {len(stub.requests)}") as stub:
        client = _client(stub.base_url, JudgeCache(path))
        first, again = _ask(client), _ask(client)
        other_sample = _ask(client, sample=1)
    assert first == again and other_sample.content == "reply 2"
    assert (client.sent, client.cached, len(stub.requests)) == (2, 1, 2)
    with StubJudge(lambda body: "never") as stub:  # another run, another URL: no request
        client = _client(stub.base_url, JudgeCache(path))
        assert _ask(client) == first and _ask(client, sample=1) == other_sample
    assert stub.requests == []
    entry = json.loads(path.read_text().splitlines()[0])
    assert entry["request"]["messages"] == MESSAGES and entry["sample"] == 0


def test_a_cut_last_line_is_ignored_a_damaged_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    with StubJudge(lambda body: "0.5") as stub:
        _ask(_client(stub.base_url, JudgeCache(path)))
    whole = path.read_text()
    path.write_text(whole + whole[:40])  # an interruption in the middle of a write
    assert len(JudgeCache(path)) == 1
    path.write_text("{not json\n" + whole)
    with pytest.raises(ValueError, match="cache.jsonl, line 1 is damaged"):
        JudgeCache(path)
