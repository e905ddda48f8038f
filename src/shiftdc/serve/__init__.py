"""`shiftdc serve`: an OpenAI-compatible chat endpoint with ShiftDC on every image request.

Web layer: FastAPI + uvicorn + prometheus_client. Engine: our own micro-batched
`generate` with one ShiftDC correction per row (`engine.py`, `rows.py`).
"""

from shiftdc.serve.app import create_app
from shiftdc.serve.config import ServeConfig
from shiftdc.serve.server import serve

__all__ = ["ServeConfig", "create_app", "serve"]
