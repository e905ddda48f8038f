"""Self-captioning across ranks: each rank captions its shard into the shared cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shiftdc.parallel import distributed

if TYPE_CHECKING:
    from shiftdc.method.captions import Captioner
    from shiftdc.method.sample import Sample


def caption_sharded(captioner: Captioner, samples: list[Sample]) -> None:
    """Fill missing captions: each rank captions its shard into the shared cache, then all read.

    Ranks that do not share the cache's filesystem recompute what they cannot read.
    """
    todo = [s for s in samples if s.image is not None and s.caption is None]
    if not todo:
        return
    if distributed.active():
        mine = distributed.shard(todo)
        if mine:
            captioner.caption(mine)
        distributed.barrier()
    for s, c in zip(todo, captioner.caption(todo), strict=True):
        s.caption = c
