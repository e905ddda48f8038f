"""What the tool reads and writes: request files, images, result records, atomic writes.

Modules:
  atomic.py    atomic file writes for caches shared by concurrent processes
  images.py    opening image files safely, as the RGB picture a person would see
  requests.py  reading request JSONL files and images, writing result JSONL files
  files.py     result records: content keys, the JSONL writer/reader, sidecars, failures
"""
