"""Run the app under uvicorn: loopback by default, SIGTERM drains in-flight requests."""

from __future__ import annotations

import logging
import signal

import uvicorn

from shiftdc.errors import ShiftDCError
from shiftdc.serve.app import create_app
from shiftdc.serve.config import ServeConfig
from shiftdc.serve.playground import startup_notes


def serve(config: ServeConfig) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, finish in-flight requests, exit.

    Raises ShiftDCError when the model or direction fails to load.
    """
    config.check()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s shiftdc serve: %(message)s")
    server: uvicorn.Server | None = None

    def stop() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(config, on_failure=stop)
    uv = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        timeout_graceful_shutdown=int(config.timeout_s) + 5,
    )
    server = uvicorn.Server(uv)
    guard = "ON" if config.guard else "OFF (--no-guard)"
    key = "required" if config.api_key else "not required (loopback only is advised)"
    logging.getLogger("shiftdc.serve").info(
        "listening on http://%s:%d (guard %s, API key %s, client overrides %s); loading...",
        config.host,
        config.port,
        guard,
        key,
        "allowed" if config.allow_client_overrides else "refused",
    )
    # uvicorn drains on SIGTERM, then re-raises it: handled here, a drained stop exits 0
    log = logging.getLogger("shiftdc.serve")
    for note in startup_notes(config):
        (log.warning if note.startswith("WARNING") else log.info)(note)
    signal.signal(signal.SIGTERM, lambda *_: log.info("stopped after draining"))
    server.run()
    error = app.state.shiftdc.error
    if error:
        raise ShiftDCError(f"could not start: {error}")
