"""Data-parallel plumbing under torchrun / accelerate launch; a no-op in one process.

Modules:
  distributed.py       torch.distributed helpers: rank and world, shards, sums, barriers
  evaluation.py        data-parallel evaluation and rescoring
  rank_files.py        records across ranks: one file per rank, resume, progress, merge
  sharded_captions.py  missing captions filled shard by shard through the shared cache
  sharded_fit.py       direction fitting split over ranks: sums and counts all-reduced
  sharded_jobs.py      `caption` and `generate` split over ranks, merged by rank 0
"""
