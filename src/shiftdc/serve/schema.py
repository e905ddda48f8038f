"""The OpenAI chat-completions request (validated) and the response/chunk bodies."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shiftdc.serve.openai_errors import APIError, bad

UNSUPPORTED = ("tools", "functions", "tool_choice", "response_format", "logit_bias")


class ImageURL(BaseModel):
    url: str
    detail: str | None = None


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: ImageURL | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class GuardOptions(BaseModel):
    """`extra_body={"shiftdc": {...}}`: overrides (operator permission) and what to return."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    mode: Literal["paper", "sequential"] | None = None
    alpha: float | None = Field(default=None, ge=0.0, le=10.0)
    return_caption: bool = False
    return_layers: bool = False  # every decoder layer's shift and correction (`per_layer`)

    def overrides(self) -> list[str]:
        return [k for k in ("enabled", "mode", "alpha") if getattr(self, k) is not None]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    shiftdc: GuardOptions | None = None

    def stops(self) -> list[str]:
        raw = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(raw) > 4 or any(not s for s in raw):
            raise bad("'stop' takes up to 4 non-empty strings", "stop")
        return raw


def parse_request(body: bytes) -> ChatRequest:
    """JSON bytes -> ChatRequest; 400 for malformed JSON or unsupported options, 422 for
    fields of the wrong shape."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad(f"the request body is not valid JSON ({exc}); send a JSON object") from None
    if not isinstance(raw, dict):
        raise bad("the request body must be a JSON object")
    for key in UNSUPPORTED:
        if raw.get(key) is not None:
            raise bad(f"'{key}' is not supported by this server; leave it out", key)
    if raw.get("logprobs"):
        raise bad("'logprobs' is not supported by this server; leave it out", "logprobs")
    try:
        req = ChatRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise APIError(422, f"{where}: {err['msg']}", where, "invalid_value") from None
    if req.n not in (None, 1):
        raise bad("n must be 1: this server returns one choice per request", "n")
    return req


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    rid: str, created: int, model: str, text: str, finish: str, use: dict, guard: dict
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": use,
        "shiftdc": guard,
    }


def chunk_body(
    rid: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One `chat.completion.chunk`; delta None gives the usage-only chunk (no choices)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
        **extra,
    }
