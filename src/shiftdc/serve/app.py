"""The FastAPI app: OpenAI-compatible routes over the engine, auth, limits, errors, metrics."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from shiftdc.method.layers import resolve_layers
from shiftdc.serve.components import Components, load_components
from shiftdc.serve.config import ServeConfig
from shiftdc.serve.conversation import to_prompt
from shiftdc.serve.engine import Engine, Guard, Job
from shiftdc.serve.openai_errors import APIError, bad, too_large
from shiftdc.serve.playground import add_playground, compare_allowed
from shiftdc.serve.prometheus import Metrics
from shiftdc.serve.scheduler import make_engine
from shiftdc.serve.schema import ChatRequest, chunk_body, completion_body, parse_request, usage

log = logging.getLogger("shiftdc.serve")


class State:
    """The server's life: loading -> ready -> draining (or failed)."""

    def __init__(self, config: ServeConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.parts: Components | None = None
        self.engine: Engine | None = None
        self.error: str | None = None
        self.draining = False
        #: the operator's resolved guard settings (mode, alpha), set once loaded
        self.guard_settings: tuple[str, float] | None = None
        self.count_lock = threading.Lock()

    def load(self, loader: Callable[[ServeConfig], Components]) -> None:
        try:
            parts = loader(self.config)
            engine = make_engine(
                self.config.engine,
                parts.vlm,
                parts.direction,
                parts.captioner,
                self.metrics,
                layers=resolve_layers(self.config.layers, parts.vlm.num_layers)
                if self.config.layers is not None
                else None,
                positions=self.config.positions,
                batch_wait_ms=self.config.batch_wait_ms,
                max_batch_size=self.config.max_batch_size,
                max_queue=self.config.max_queue,
                prefill_chunk=self.config.prefill_chunk,
                step_log=self.config.step_log,
            )
            sdc = engine.shiftdc(self.config.mode, self.config.alpha)  # checks the settings
            log.info("ShiftDC: %s", sdc.settings.describe())
            self.guard_settings = (sdc.mode, sdc.alpha)
            engine.start()
            self.parts, self.engine = parts, engine
            log.info("ready: serving %r", parts.name)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("loading failed: %s", self.error)

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        if self.draining:
            return "draining"
        return "ready" if self.engine is not None else "loading"


def create_app(
    config: ServeConfig,
    loader: Callable[[ServeConfig], Components] = load_components,
    on_failure: Callable[[], None] | None = None,
) -> FastAPI:
    """The app; the model loads in the background once it starts (`/health` says when)."""
    config.check()
    metrics = Metrics()
    state = State(config, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def load() -> None:
            state.load(loader)
            if state.error and on_failure is not None:
                on_failure()

        threading.Thread(target=load, name="shiftdc-load", daemon=True).start()
        yield
        state.draining = True
        if state.engine is not None:
            await run_in_threadpool(state.engine.close, config.timeout_s)

    app = FastAPI(title="shiftdc serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.shiftdc = state

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        if request.url.path == "/v1/chat/completions":
            metrics.requests.labels(str(exc.status)).inc()
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(APIError(exc.status_code, str(exc.detail)).body(), exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse(APIError(500, f"internal error: {exc}").body(), 500)

    def authorize(request: Request) -> None:
        if config.api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), config.api_key.encode()
        ):
            raise APIError(
                401,
                "missing or wrong API key; send Authorization: Bearer <key>",
                code="invalid_api_key",
            )

    def ready() -> tuple[Engine, Components]:
        if state.engine is None or state.parts is None or state.draining:
            raise APIError(503, f"the server is not ready ({state.status}); retry shortly")
        return state.engine, state.parts

    @app.get("/health")
    async def health() -> JSONResponse:
        body = {"status": state.status}
        if state.error:
            body["error"] = state.error
        return JSONResponse(body, status_code=200 if state.status == "ready" else 503)

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        authorize(request)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        _, parts = ready()
        entry = {"id": parts.name, "object": "model", "created": 0, "owned_by": "shiftdc"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        start = time.monotonic()
        authorize(request)
        engine, parts = ready()
        req = parse_request(await _read_body(request, config.max_body_bytes))
        if req.model != parts.name:
            raise APIError(
                404,
                f"model {req.model!r} not found; this server serves "
                f"{parts.name!r} (GET /v1/models)",
                "model",
                "model_not_found",
            )
        job = await _make_job(req, parts)
        engine.submit(job)
        if req.stream:
            include = bool(req.stream_options and req.stream_options.include_usage)
            metrics.requests.labels("200").inc()
            return StreamingResponse(
                _stream(job, req.model, include, start), media_type="text/event-stream"
            )
        kind, payload = await _wait(job, request, start)
        if kind == "error":
            raise payload
        metrics.requests.labels("200").inc()
        metrics.latency.observe(time.monotonic() - start)
        finish = "length" if payload["finish"] == "length" else "stop"
        body = completion_body(
            job.id,
            int(time.time()),
            req.model,
            payload["text"],
            finish,
            usage(job.prompt_tokens, payload["tokens"]),
            payload["shiftdc"],
        )
        return JSONResponse(body)

    async def _make_job(req: ChatRequest, parts: Components) -> Job:
        opts = req.shiftdc
        assert state.guard_settings is not None  # set before the engine is ready
        guard = Guard(config.guard, *state.guard_settings)
        if opts is not None and opts.overrides():
            if not config.allow_client_overrides and not compare_allowed(config, opts):
                raise bad(
                    f"client overrides of the guard ({', '.join(opts.overrides())}) are refused: "
                    "the operator did not start the server with --allow-client-overrides",
                    "shiftdc",
                    "overrides_not_allowed",
                )
            guard = Guard(
                opts.enabled if opts.enabled is not None else guard.enabled,
                opts.mode or guard.mode,
                opts.alpha if opts.alpha is not None else guard.alpha,
                "client",
            )
        asked = req.max_completion_tokens or req.max_tokens or config.default_max_tokens
        if asked > config.max_tokens:
            raise bad(
                f"max_tokens {asked} is over this server's limit of {config.max_tokens}",
                "max_tokens",
                "too_many_tokens",
            )
        stops = req.stops()
        prompt, image = await run_in_threadpool(
            to_prompt, req.messages, config.max_image_bytes, config.max_pixels
        )
        n_prompt = await run_in_threadpool(_count_tokens, parts, state.count_lock, prompt, image)
        if n_prompt + asked > parts.context:
            raise bad(
                f"{n_prompt} prompt tokens + max_tokens {asked} exceed the model's context of "
                f"{parts.context} tokens; shorten the prompt or lower max_tokens",
                "messages",
                "context_length_exceeded",
            )
        job = Job(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            prompt=prompt,
            image=image,
            max_tokens=asked,
            stops=stops,
            temperature=1.0 if req.temperature is None else req.temperature,
            top_p=1.0 if req.top_p is None else req.top_p,
            seed=req.seed,
            guard=guard,
            return_caption=bool(opts and opts.return_caption),
            return_layers=bool(opts and opts.return_layers),
            loop=asyncio.get_running_loop(),
            prompt_tokens=n_prompt,
        )
        return job

    async def _wait(job: Job, request: Request, start: float) -> tuple[str, Any]:
        """The job's final event; cancels it if the client leaves or time runs out."""
        try:
            while True:
                if time.monotonic() - start > config.timeout_s:
                    raise APIError(
                        503,
                        f"the request took over {config.timeout_s:g}s "
                        "(server timeout); retry later",
                        code="timeout",
                    )
                try:
                    kind, payload = await asyncio.wait_for(job.events.get(), 0.5)
                except TimeoutError:
                    if await request.is_disconnected():
                        raise APIError(499, "client disconnected") from None
                    continue
                if kind == "delta":
                    continue
                return kind, payload
        finally:
            job.cancelled.set()

    async def _stream(job: Job, model: str, include_usage: bool, start: float):
        created = int(time.time())

        def sse(obj: Any) -> str:
            return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

        first = True
        try:
            yield sse(chunk_body(job.id, created, model, {"role": "assistant", "content": ""}))
            while True:
                left = config.timeout_s - (time.monotonic() - start)
                try:
                    kind, payload = await asyncio.wait_for(job.events.get(), max(left, 0.001))
                except TimeoutError:
                    err = APIError(
                        503,
                        f"the request took over {config.timeout_s:g}s (server timeout)",
                        code="timeout",
                    )
                    yield sse(err.body())
                    break
                if kind == "delta":
                    if first:
                        metrics.ttft.observe(time.monotonic() - start)
                        first = False
                    yield sse(chunk_body(job.id, created, model, {"content": payload}))
                elif kind == "error":
                    yield sse(payload.body())
                    break
                else:
                    if first:
                        metrics.ttft.observe(time.monotonic() - start)
                    finish = "length" if payload["finish"] == "length" else "stop"
                    yield sse(
                        chunk_body(job.id, created, model, {}, finish, shiftdc=payload["shiftdc"])
                    )
                    if include_usage:
                        use = usage(job.prompt_tokens, payload["tokens"])
                        yield sse(chunk_body(job.id, created, model, None, usage=use))
                    metrics.latency.observe(time.monotonic() - start)
                    break
            yield "data: [DONE]\n\n"
        finally:
            job.cancelled.set()  # a client that left stops its own row; the batch goes on

    if config.playground:
        add_playground(app, state, authorize)
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(f"request body of {declared} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _count_tokens(parts: Components, lock: threading.Lock, prompt: str, image: Any) -> int:
    """Prompt length in tokens (image tokens included), on a private processor copy."""
    with lock:
        if image is None:
            enc = parts.counter.encode_text([prompt])
        else:
            enc = parts.counter.encode_vl([prompt], [image])
    return int(enc["input_ids"].shape[1])
