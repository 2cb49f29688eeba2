"""The LLM judge of MM-Vet and LLaVA-Bench: a client for any OpenAI-compatible chat-completions
endpoint, over the standard library, with bounded retries and a cache of judgements on disk.

The official judges are OpenAI models called through two generations of OpenAI's SDK; here any
endpoint speaking the same HTTP protocol will do (OpenAI, a proxy, a local server). Settings come
in a `JudgeConfig`, which the command-line tools build from the environment
(`judge_config_from_env`). Every judgement is cached under a key made of the whole request body,
so a rerun never pays twice; a `sample` number keeps deliberate repeats of the same request
(MM-Vet's runs) apart. Nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OPENAI_BASE_URL = "https://api.openai.com/v1"  # the OpenAI SDKs' default endpoint
# Read in this order; the first that is set wins.
BASE_URL_VARIABLES = ("LLAVA_JUDGE_BASE_URL", "OPENAI_BASE_URL")
API_KEY_VARIABLES = ("LLAVA_JUDGE_API_KEY", "OPENAI_API_KEY")
MODEL_VARIABLE = "LLAVA_JUDGE_MODEL"
TIMEOUT_VARIABLE = "LLAVA_JUDGE_TIMEOUT"  # seconds per request
ATTEMPTS_VARIABLE = "LLAVA_JUDGE_MAX_ATTEMPTS"
BACKOFF_VARIABLE = "LLAVA_JUDGE_BACKOFF"  # seconds before the first retry, doubled for each next
# HTTP statuses worth another try: rate limits, timeouts and server errors.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class JudgeError(RuntimeError):
    """The judge could not be reached or gave an unusable reply."""


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str | None  # e.g. "https://api.openai.com/v1"; None: no endpoint configured
    api_key: str | None = None  # sent as a bearer token when set
    model: str | None = None  # None: the benchmark's official judge model
    timeout: float = 120.0
    max_attempts: int = 6  # per request, counting the first
    backoff: float = 2.0  # seconds before the second attempt, doubled for each later one
    max_backoff: float = 60.0

    def judge_model(self, official: str) -> str:
        return self.model or official


def _number(environ: Mapping[str, str], name: str, default: float, kind: type, least: float):
    if not environ.get(name):
        return default
    try:
        value = kind(environ[name])
    except ValueError:
        value = least - 1
    if value < least:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name}={environ[name]!r}: expected {what} >= {least}")
    return value


def judge_config_from_env(environ: Mapping[str, str]) -> JudgeConfig:
    """The judge's settings from environment variables (LLAVA_JUDGE_* first, then OPENAI_*).

    With a key but no base URL the endpoint is OpenAI's; with neither, `base_url` is None and the
    first request raises a JudgeError that names the variables.
    """
    base_url = next((environ[v] for v in BASE_URL_VARIABLES if environ.get(v)), None)
    api_key = next((environ[v] for v in API_KEY_VARIABLES if environ.get(v)), None)
    return JudgeConfig(
        base_url=base_url or (OPENAI_BASE_URL if api_key else None),
        api_key=api_key,
        model=environ.get(MODEL_VARIABLE) or None,
        timeout=_number(environ, TIMEOUT_VARIABLE, JudgeConfig.timeout, float, 0.001),
        max_attempts=_number(environ, ATTEMPTS_VARIABLE, JudgeConfig.max_attempts, int, 1),
        backoff=_number(environ, BACKOFF_VARIABLE, JudgeConfig.backoff, float, 0),
    )


@dataclass(frozen=True)
class Judgement:
    content: str  # the reply's text
    model: str  # the model the endpoint says answered


class JudgeCache:
    """Judgements on disk, one JSON line per request: key, sample, request body, reply.

    A last line cut short by an interruption is ignored (its request is simply sent again).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, Judgement] = {}
        if self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            for line_no, line in enumerate(lines, start=1):
                try:
                    entry = json.loads(line)
                    self._entries[entry["key"]] = Judgement(entry["content"], entry["model"])
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    if line_no == len(lines):
                        break
                    raise ValueError(
                        f"judge cache {self.path}, line {line_no} is damaged ({err}); delete the "
                        "file to start the cache afresh"
                    ) from err

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Judgement | None:
        return self._entries.get(key)

    def put(self, key: str, sample: int, body: dict, judgement: Judgement) -> None:
        self._entries[key] = judgement
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"key": key, "sample": sample, "request": body, **judgement.__dict__}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def request_key(body: dict, sample: int) -> str:
    """What identifies a judgement: the whole request body (model, messages, temperature,
    max_tokens) and the sample number. The endpoint is left out: the same model asked the same
    thing through another URL (a proxy, say) is the same judgement."""
    text = json.dumps({"body": body, "sample": sample}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JudgeClient:
    """Chat completions from the configured endpoint, through the cache when one is given."""

    def __init__(
        self,
        config: JudgeConfig,
        cache: JudgeCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.cache = cache
        self._sleep = sleep
        self.sent = 0  # requests that reached the endpoint with a reply
        self.cached = 0  # requests answered from the cache

    @property
    def url(self) -> str:
        if not self.config.base_url:
            raise JudgeError(
                "no judge endpoint configured: set LLAVA_JUDGE_BASE_URL (an OpenAI-compatible "
                "base URL such as https://api.openai.com/v1) and LLAVA_JUDGE_API_KEY, or "
                "OPENAI_API_KEY (and OPENAI_BASE_URL); LLAVA_JUDGE_MODEL overrides the judge model"
            )
        return self.config.base_url.rstrip("/") + "/chat/completions"

    def complete(
        self,
        messages: Sequence[dict],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        sample: int = 0,
    ) -> Judgement:
        body = {
            "model": model,
            "messages": list(messages),
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        key = request_key(body, sample)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.cached += 1
            return hit
        judgement = self._post(body)
        self.sent += 1
        if self.cache is not None:
            self.cache.put(key, sample, body, judgement)
        return judgement

    def _post(self, body: dict) -> Judgement:
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        data = json.dumps(body).encode("utf-8")
        problem = ""
        for attempt in range(1, self.config.max_attempts + 1):
            wait = min(self.config.backoff * 2 ** (attempt - 1), self.config.max_backoff)
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    return self._judgement(response.read(), body["model"])
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", "replace")[:300]
                if err.code not in RETRYABLE_STATUSES:
                    raise JudgeError(
                        f"the judge at {self.url} refused the request: HTTP {err.code} {detail}"
                    ) from err
                problem = f"HTTP {err.code} {detail}".strip()
                wait = _retry_after(err.headers.get("Retry-After"), wait, self.config.max_backoff)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                problem = str(getattr(err, "reason", err))
            if attempt < self.config.max_attempts:
                self._sleep(wait)
        raise JudgeError(
            f"the judge at {self.url} gave no usable reply in {self.config.max_attempts} "
            f"attempt(s) (last: {problem}); "
            "try again later: rerunning the same command continues where this one stopped"
        )

    def _judgement(self, raw: bytes, requested_model: str) -> Judgement:
        try:
            reply = json.loads(raw)
            content = reply["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
            raise JudgeError(
                f"the judge at {self.url} did not answer in the chat-completions format: "
                f"{raw[:300]!r}"
            ) from err
        # A null content (a refusal, say) is an empty reply: the benchmarks' parsers then
        # treat it as unparsable, as they would any other unusable reply.
        return Judgement(content or "", reply.get("model") or requested_model)


def _retry_after(header: str | None, default: float, cap: float) -> float:
    """The server's Retry-After (in seconds) when it gives one, capped."""
    try:
        return min(max(float(header), 0.0), cap) if header else default
    except ValueError:
        return default
