"""`shiftdc serve`: an OpenAI-compatible chat endpoint with ShiftDC on every image request.

Web layer: FastAPI + uvicorn + prometheus_client. Engine: our own slot scheduler over the
HF cache (`scheduler.py`, `slots.py`; iteration-level, the default) or the older micro-batched
`generate` with one ShiftDC correction per row (`engine.py`, `rows.py`; `--engine batch`).

Modules:
  app.py            the FastAPI app: OpenAI-compatible routes, auth, limits, errors, metrics
  components.py     what the server loads at start: model, direction, captioner
  config.py         ServeConfig: model, guard, network, batching and limits
  conversation.py   an OpenAI `messages` list -> one prompt and at most one image
  data_urls.py      images from `data:` URLs, size-checked before decoding
  engine.py         the micro-batching engine: one worker thread, compatible requests batched
  openai_errors.py  errors as OpenAI's JSON body with a status
  per_layer.py      the per-layer shift and correction block (`return_layers`)
  playground.py     the playground page's routes: page, built-in examples, config
  prometheus.py     the Prometheus metrics of one server
  rows.py           per-row generation inside one batched `generate`
  scheduler.py      the slot engine: every decode step runs every active row, per-step admission
  schema.py         the chat-completions request (validated) and response bodies
  server.py         run the app under uvicorn; SIGTERM drains in-flight requests
  slots.py          the KV cache of rows decoding together: rows join and leave per step
"""

from shiftdc.serve.app import create_app
from shiftdc.serve.config import ServeConfig
from shiftdc.serve.server import serve

__all__ = ["ServeConfig", "create_app", "serve"]
