"""`shiftdc serve --playground`: a page at `/` that shows what ShiftDC does to a request.

The page (plain HTML, CSS and JS in `static/playground/`, nothing fetched from elsewhere)
talks to the same `/v1/chat/completions` every client uses. Its own routes only describe
the server (`/playground/config`, behind the API key like `/v1/*`) and hand out the
built-in attack images (`/playground/examples`). With `--playground-compare` any caller
holding the key may turn the guard off for one request (`"shiftdc": {"enabled": false}`),
which is how the page shows the unguarded answer beside the guarded one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shiftdc.data.scenarios import FIGSTEP, SD_TYPO, TYPO
from shiftdc.serve.config import ServeConfig
from shiftdc.serve.openai_errors import APIError

if TYPE_CHECKING:
    from shiftdc.serve.app import State
    from shiftdc.serve.schema import GuardOptions

STATIC_FILES = {
    "playground.css": "text/css; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
}
# the page may reach its own origin only: no CDN, no fonts, no analytics, works offline
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
EXAMPLE_ATTACKS = {TYPO: "TYPO", SD_TYPO: "SD+TYPO", FIGSTEP: "FigStep"}  # name -> label
EXAMPLES_PER_KIND = 2


def compare_allowed(config: ServeConfig, opts: GuardOptions) -> bool:
    """Whether `opts` asks only to switch the guard off, and the operator allows that."""
    return config.playground_compare and opts.overrides() == ["enabled"] and not opts.enabled


def startup_notes(config: ServeConfig) -> list[str]:
    """Lines for the startup log (warnings first) about what the playground exposes."""
    if not config.playground:
        return []
    notes = []
    if config.playground_compare:
        who = "any caller holding the API key" if config.api_key else "any caller (no API key)"
        notes.append(
            "WARNING --playground-compare: unguarded answers are served to "
            f'{who}, not just the page: a request with "shiftdc": {{"enabled": false}} '
            "skips ShiftDC"
        )
    host = f"[{config.host}]" if ":" in config.host else config.host
    notes.append(f"playground page at http://{host}:{config.port}/")
    return notes


@dataclass(frozen=True)
class Example:
    """One built-in attack image and the query that goes with it."""

    id: str
    attack: str
    kind: str
    scenario: str
    key_phrase: str
    request: str  # the plain-text request the image stands for
    query: str  # the attack's fixed text, sent with the image

    def public(self) -> dict[str, Any]:
        label = EXAMPLE_ATTACKS[self.attack]
        return {**self.__dict__, "label": label, "image": f"/playground/examples/{self.id}.png"}


def _slug(attack: str) -> str:
    return attack.lower().replace("_", "-")


@cache
def examples() -> tuple[Example, ...]:
    """A few held-out ('eval' split) requests of each kind, in each attack form."""
    from shiftdc.data.builtin_requests import builtin_requests
    from shiftdc.data.scenarios import ATTACK_PROMPTS

    out = []
    for kind in ("harmful", "benign"):
        picked, scenarios = [], set()
        for req in builtin_requests("eval", kind):
            if req.scenario not in scenarios and len(picked) < EXAMPLES_PER_KIND:
                picked.append(req)
                scenarios.add(req.scenario)
        for req in picked:
            for attack in EXAMPLE_ATTACKS:
                out.append(
                    Example(
                        id=f"{req.id}-{_slug(attack)}",
                        attack=attack,
                        kind=kind,
                        scenario=req.scenario,
                        key_phrase=req.key_phrase,
                        request=req.request,
                        query=ATTACK_PROMPTS[attack],
                    )
                )
    return tuple(out)


@cache
def example_png(example_id: str) -> bytes:
    """The example's image as the built-in suite renders it (seed 0), PNG-encoded."""
    from shiftdc.data.builtin import render_attack_image

    by_id = {e.id: e for e in examples()}
    if example_id not in by_id:
        raise APIError(404, f"no built-in example {example_id!r}; GET /playground/examples")
    ex = by_id[example_id]
    request_id = example_id.removesuffix(f"-{_slug(ex.attack)}")
    image = render_attack_image(ex.attack, ex.key_phrase, request_id, seed=0)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _static(name: str) -> bytes:
    return resources.files("shiftdc.serve").joinpath("static", "playground", name).read_bytes()


def server_description(state: State) -> dict[str, Any]:
    """What the page shows about the server: model, configuration and its provenance."""
    config = state.config
    if state.engine is None or state.parts is None or state.guard_settings is None:
        raise APIError(503, f"the server is not ready ({state.status}); retry shortly")
    settings = state.engine.shiftdc(*state.guard_settings).settings
    return {
        "model": state.parts.name,
        "num_layers": state.parts.vlm.num_layers,
        "guard": config.guard,
        "compare": config.playground_compare,
        "settings": {
            "mode": settings.mode,
            "layers": settings.layers,
            "alpha": settings.alpha,
            "positions": settings.positions,
            "sources": settings.sources,
            "tuned_with": settings.tuned_with,
            "summary": settings.describe(),
        },
        "captioner": config.captioner,
        "caption_tokens": config.caption_tokens,
        "limits": {
            "max_tokens": config.max_tokens,
            "default_max_tokens": config.default_max_tokens,
            "max_image_bytes": config.max_image_bytes,
            "max_body_bytes": config.max_body_bytes,
        },
    }


def add_playground(app: FastAPI, state: State, authorize: Callable[[Request], None]) -> None:
    """Register the page and its routes on the server's app."""

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(
            _static("index.html"), media_type="text/html; charset=utf-8", headers=HEADERS
        )

    @app.get("/playground/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise APIError(404, f"no playground file {name!r}")
        return Response(_static(name), media_type=STATIC_FILES[name], headers=HEADERS)

    @app.get("/playground/config")
    async def describe(request: Request) -> JSONResponse:
        authorize(request)
        return JSONResponse(server_description(state), headers={"Cache-Control": "no-store"})

    @app.get("/playground/examples")
    async def example_list() -> JSONResponse:
        return JSONResponse({"examples": [e.public() for e in examples()]})

    @app.get("/playground/examples/{example_id}.png")
    async def example_image(example_id: str) -> Response:
        return Response(example_png(example_id), media_type="image/png")
