"""LLM clients behind one protocol: OpenAI-compatible HTTP, replay of recorded replies, local transformers.

The HTTP client uses only `urllib` so any chat-completions server works (OpenAI, vLLM, Ollama,
llama.cpp's server) with no SDK. Tokens and seconds are counted because LEED's wall-clock
comparison must charge generation to LEED; replies are cached by prompt hash so a re-run is free.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from baselines.core.errors import UserError
from leed.dg.prompts import Prompt


class LLMError(UserError):
    """The LLM could not be reached or refused (after retries); names the endpoint and last error."""


@dataclass
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False
    attempts: int = 1
    errors: list[str] = field(default_factory=list)  # transient failures that were retried


@dataclass
class Usage:
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, reply: Reply) -> None:
        self.calls += 1
        self.cached_calls += int(reply.cached)
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.seconds += reply.seconds

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class LLMClient(Protocol):
    model: str
    usage: Usage

    def complete(self, prompt: Prompt, temperature: float = 0.0) -> Reply: ...


class ReplyCache:
    """Replies on disk, one JSON file per key (hash of model, temperature and prompt)."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root).expanduser() if root else None

    @staticmethod
    def key(model: str, temperature: float, prompt: Prompt) -> str:
        return hashlib.sha256(f"{model}\n{temperature!r}\n{prompt.sha256}".encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        if self.root is None or not (self.root / f"{key}.json").is_file():
            return None
        try:
            return json.loads((self.root / f"{key}.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a torn cache entry is a miss, not an error

    def put(self, key: str, value: dict) -> None:
        if self.root is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(value))
        os.replace(tmp, self.root / f"{key}.json")


_RETRY_STATUS = {408, 409, 429}


class OpenAIChatClient:
    """`POST {base_url}/chat/completions`; retries timeouts, 429 and 5xx with exponential backoff."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_tokens: int | None = 1024,
        cache_dir: str | Path | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise UserError(f"--base-url must start with http:// or https://, got '{base_url}'")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.cache = ReplyCache(cache_dir)
        self.usage = Usage()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if key:  # local servers (vLLM, Ollama, llama.cpp) need none
                headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, prompt: Prompt, temperature: float = 0.0) -> Reply:
        key = ReplyCache.key(self.model, temperature, prompt)
        hit = self.cache.get(key)
        if hit is not None:
            reply = Reply(text=hit["text"], cached=True, attempts=0)  # no tokens, no seconds: it cost nothing
            self.usage.add(reply)
            return reply
        body = {"model": self.model, "messages": prompt.messages, "temperature": temperature}
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        data = json.dumps(body).encode()
        url = f"{self.base_url}/chat/completions"
        errors: list[str] = []
        start = time.perf_counter()
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=self._headers(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                if err.code in _RETRY_STATUS or err.code >= 500:
                    errors.append(f"HTTP {err.code}")
                    continue
                raise LLMError(f"LLM endpoint {url} refused the request: HTTP {err.code} {err.reason}") from None
            except (TimeoutError, socket.timeout):
                errors.append(f"timeout after {self.timeout_s:g} s")
                continue
            except urllib.error.URLError as err:
                if isinstance(err.reason, (TimeoutError, socket.timeout)):
                    errors.append(f"timeout after {self.timeout_s:g} s")
                    continue
                if isinstance(err.reason, ConnectionError):
                    errors.append(f"connection failed: {err.reason}")
                    continue
                raise LLMError(f"LLM endpoint {url} unreachable: {err.reason}") from None
            except (json.JSONDecodeError, UnicodeDecodeError):
                errors.append("reply is not JSON")
                continue
            except (ConnectionError, OSError) as err:
                errors.append(f"connection failed: {err}")
                continue
            try:
                text = payload["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                errors.append("reply has no choices[0].message.content")
                continue
            usage = payload.get("usage") or {}
            reply = Reply(
                text=text or "",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                seconds=time.perf_counter() - start,
                attempts=attempt + 1,
                errors=errors,
            )
            self.cache.put(key, {"text": reply.text, "model": self.model, "prompt_sha256": prompt.sha256})
            self.usage.add(reply)
            return reply
        self.usage.seconds += time.perf_counter() - start
        raise LLMError(
            f"LLM endpoint {url} failed after {self.max_retries + 1} attempts: {'; '.join(errors)}"
        )


class ReplayClient:
    """Serves recorded replies: a prompts.jsonl (matched by prompt sha256) or a plain list in order.

    A file of records with `prompt_sha256` replays exactly what was said to which prompt; records
    without it (or a JSON list of strings) are served in order, for scripted test conversations.
    """

    def __init__(self, path: str | Path, model: str = "replay"):
        path = Path(path)
        try:
            raw = path.read_text()
        except OSError as err:
            raise UserError(f"--replies file {path} cannot be read: {err.strerror}") from None
        records: list[dict] = []
        try:
            if raw.lstrip().startswith("["):
                records = [{"reply": r} if isinstance(r, str) else r for r in json.loads(raw)]
            else:
                records = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise UserError(f"--replies file {path} is not JSON/JSONL: line {err.lineno}: {err.msg}") from None
        self.by_prompt = {r["prompt_sha256"]: r["reply"] for r in records if r.get("prompt_sha256") and "reply" in r}
        self.in_order = [r["reply"] for r in records if "reply" in r]
        self.cursor = 0
        self.model = model
        self.path = path
        self.usage = Usage()

    def complete(self, prompt: Prompt, temperature: float = 0.0) -> Reply:
        text = self.by_prompt.get(prompt.sha256)
        if text is None:
            if self.cursor >= len(self.in_order):
                raise LLMError(f"replay file {self.path} has no reply left for prompt {prompt.sha256[:12]}")
            text = self.in_order[self.cursor]
            self.cursor += 1
        reply = Reply(text=text, cached=True, attempts=0)
        self.usage.add(reply)
        return reply


class TransformersClient:
    """A local Hugging Face model via `transformers` (optional; imported only when used)."""

    def __init__(self, model: str, max_new_tokens: int = 512, device: str | None = None):
        try:
            import transformers  # noqa: F401
        except ImportError:
            raise UserError("the transformers generator needs `pip install transformers accelerate`") from None
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = model
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.lm = AutoModelForCausalLM.from_pretrained(model)
        if device:
            self.lm.to(device)
        self.max_new_tokens = max_new_tokens
        self.usage = Usage()

    def complete(self, prompt: Prompt, temperature: float = 0.0) -> Reply:
        start = time.perf_counter()
        ids = self.tokenizer.apply_chat_template(prompt.messages, add_generation_prompt=True, return_tensors="pt")
        ids = ids.to(self.lm.device)
        sample = temperature > 0
        out = self.lm.generate(
            ids, max_new_tokens=self.max_new_tokens, do_sample=sample, temperature=temperature if sample else None
        )
        new = out[0, ids.shape[1]:]
        reply = Reply(
            text=self.tokenizer.decode(new, skip_special_tokens=True),
            prompt_tokens=int(ids.shape[1]),
            completion_tokens=int(new.shape[0]),
            seconds=time.perf_counter() - start,
        )
        self.usage.add(reply)
        return reply
