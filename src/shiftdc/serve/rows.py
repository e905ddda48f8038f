"""Per-row generation inside one batched `generate`: each row's tokens go to its own client.

`RowRouter` is the `generate` streamer: it hands every new token of row b to rows[b], which
decodes it, applies that request's own stop strings and token limit, and sends text deltas
to its client. `RowStops` tells `generate` which rows are finished (their limit, a stop
string, or a disconnected client), so one row ending never ends or changes the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer


class Row:
    """The output of one request inside a batch."""

    def __init__(
        self,
        tokenizer: Any,
        max_tokens: int,
        stops: Sequence[str],
        eos_ids: set[int],
        on_delta: Callable[[str], None],
        cancelled: Callable[[], bool],
    ) -> None:
        self.tok = tokenizer
        self.max_tokens = max_tokens
        self.stops = list(stops)
        self.eos_ids = eos_ids
        self.on_delta = on_delta
        self.cancelled = cancelled
        self.tokens: list[int] = []
        self.finish: str | None = None  # "stop" | "length" | "cancelled"
        self.sent = ""
        self._hold = max((len(s) for s in self.stops), default=1) - 1

    @property
    def done(self) -> bool:
        return self.finish is not None

    def _text(self) -> str:
        return self.tok.decode(self.tokens, skip_special_tokens=True).strip()

    def add(self, token: int) -> None:
        """Take the row's next token (ignored once the row is done)."""
        if self.done:
            return
        if self.cancelled():
            self.finish = "cancelled"
            return
        if token in self.eos_ids:
            self.finish = "stop"
            return
        self.tokens.append(token)
        text = self._text()
        if any(s in text for s in self.stops):
            self.finish = "stop"
        elif len(self.tokens) >= self.max_tokens:
            self.finish = "length"
        else:
            self._send(text, final=False)

    def close(self) -> str:
        """Finish the row (generation ended); send what is left; return the full text."""
        if self.finish is None:
            self.finish = "cancelled" if self.cancelled() else "length"
        text = self.text()
        self._send(text, final=True)
        return text

    def text(self) -> str:
        """The response: decoded like `ShiftDC.generate`, cut before the first stop string."""
        text = self._text()
        cuts = [text.find(s) for s in self.stops if s in text]
        return text[: min(cuts)].rstrip() if cuts else text

    def _send(self, text: str, final: bool) -> None:
        if not final:
            # hold back what a stop string, a split character or trailing space could change
            if text.endswith("\ufffd"):
                return
            text = text[: len(text) - self._hold].rstrip() if self._hold else text.rstrip()
        if len(text) > len(self.sent) and text.startswith(self.sent):
            self.on_delta(text[len(self.sent) :])
            self.sent = text


class RowRouter(BaseStreamer):
    """`generate` streamer: skips the prompt, then routes column b of each step to rows[b]."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for row, token in zip(
            self.rows, value.reshape(len(self.rows), -1)[:, -1].tolist(), strict=True
        ):
            row.add(int(token))

    def end(self) -> None:
        pass


class RowStops(StoppingCriteria):
    """Rows that are done (limit, stop string, EOS, cancelled client) stop; others go on."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        for row in self.rows:
            if not row.done and row.cancelled():
                row.finish = "cancelled"
        done = [row.done for row in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
