"""Data-parallel plumbing under torchrun / accelerate launch; a no-op in one process.

Modules:
  distributed.py   torch.distributed helpers: rank and world, shards, sums, barriers
  rank_files.py    records across ranks: one file per rank, resume, progress, merge
  sharded_jobs.py  `caption` and `generate` split over ranks, merged by rank 0
  sharded_fit.py   direction fitting and captioning split over ranks
  evaluation.py    data-parallel evaluation and rescoring
"""
