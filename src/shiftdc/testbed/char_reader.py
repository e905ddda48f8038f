"""The testbed's character reader: a small CNN + row transformer that reads typed text in a
whole image as characters (CTC), trained by testbed_training/train_char_reader.py.

Inside the testbed (`shiftdc.testbed.modeling`) it reads the model's own `pixel_values`
(through `ink`); `read` reads PIL pictures directly (training and its evaluation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

CHARSET: Final = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'-.,"
"""Class k+1 is CHARSET[k]; class 0 is the CTC blank."""
SIDE: Final = 168
"""The 336-px images are read at half size, in grey."""


def encode(text: str) -> list[int]:
    """Character classes of `text` (characters outside CHARSET are dropped)."""
    return [CHARSET.index(c) + 1 for c in text if c in CHARSET]


def greedy_decode(classes: Iterable[int]) -> str:
    """CTC best path: collapse repeats, drop blanks (0), squeeze spaces."""
    out, prev = [], 0
    for c in classes:
        if c != prev and c != 0:
            out.append(CHARSET[c - 1])
        prev = c
    return " ".join("".join(out).split())


def to_tensor(img: Image.Image) -> torch.Tensor:
    """(1, SIDE, SIDE) ink map: 1 - grey/255 at half size."""
    g = img.convert("L").resize((SIDE, SIDE), Image.BILINEAR)
    t = torch.frombuffer(bytearray(g.tobytes()), dtype=torch.uint8).float()
    return (1.0 - t / 255.0).view(1, SIDE, SIDE)


def ink(pixel_values: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(B, 3, H, W) normalised pixels -> (B, 1, SIDE, SIDE) ink map, as `to_tensor` makes
    from the picture (1 - grey, resized with antialiasing)."""
    m = torch.tensor(mean, dtype=pixel_values.dtype, device=pixel_values.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=pixel_values.dtype, device=pixel_values.device).view(1, 3, 1, 1)
    rgb = (pixel_values * s + m).clamp(0, 1)
    grey = 0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]
    grey = F.interpolate(grey, size=(SIDE, SIDE), mode="bilinear", antialias=True)
    return 1.0 - grey


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class CharReader(nn.Module):
    """CNN -> (rows x cols) grid -> per-row transformer -> char logits in reading order.

    Vertical context comes from the CNN (its last convolutions are tall), so a cell can tell
    whether it sits on the row where its text line is to be emitted; attention runs along
    each row only (cheap on one CPU thread); CTC reads the rows top to bottom.
    """

    def __init__(self, dim: int = 128, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            *_block(1, 32),
            nn.MaxPool2d(2),  # 84 x 84
            *_block(32, 48),
            nn.MaxPool2d(2),  # 42 x 42
            *_block(48, 96),
            nn.MaxPool2d((3, 1)),  # 14 x 42
            *_block(96, dim),
            nn.Conv2d(dim, dim, (3, 1), padding=(1, 0), bias=False),
            nn.BatchNorm2d(dim),
            nn.ReLU(),
            nn.Conv2d(dim, dim, (3, 1), padding=(1, 0)),
        )
        self.rows, self.cols = SIDE // 12, SIDE // 4
        self.row_pos = nn.Parameter(torch.zeros(self.rows, 1, dim))
        self.col_pos = nn.Parameter(torch.zeros(1, self.cols, dim))
        nn.init.normal_(self.row_pos, std=0.02)
        nn.init.normal_(self.col_pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim * 3, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, len(CHARSET) + 1)
        with torch.no_grad():  # start on the all-blank plateau: most positions emit nothing
            self.out.bias[0] = 4.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, SIDE, SIDE) -> (B, rows*cols, classes) logits, row-major reading order."""
        f = self.cnn(x).permute(0, 2, 3, 1)  # B, rows, cols, dim
        f = f + self.row_pos + self.col_pos
        b, r, c, d = f.shape
        h = self.encoder(f.reshape(b * r, c, d))  # attention within each row
        return self.out(self.norm(h)).reshape(b, r * c, -1)

    @torch.no_grad()
    def read(self, images: Sequence[Image.Image], batch: int = 32) -> list[str]:
        """Greedy CTC readings of PIL images."""
        self.eval()
        texts: list[str] = []
        for i in range(0, len(images), batch):
            x = torch.stack([to_tensor(im) for im in images[i : i + batch]])
            texts += [greedy_decode(r) for r in self(x).argmax(-1).tolist()]
        return texts


def load_char_reader(path: Path) -> CharReader:
    """A CharReader in eval mode from its fp16 export (`.safetensors`, as committed) or a
    training checkpoint (train_char_reader's `last.pt`)."""
    reader = CharReader()
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(path).items()}
    else:
        state = torch.load(path, map_location="cpu")["model"]
    reader.load_state_dict(state)
    return reader.eval()
