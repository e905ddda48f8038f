"""What the tool reads and writes: request files, images, result records, atomic writes.

Modules:
  atomic.py      atomic file writes for caches shared by concurrent processes
  images.py      opening image files safely, as the RGB picture a person would see
  requests.py    reading request JSONL files and images, writing result JSONL files
  keys.py        content keys: digests of an item's input (prompt, caption, image)
  duplicates.py  duplicate ids in inputs: identical kept once, different refused
  jsonl.py       the one JSONL record writer and reader
  failures.py    the failure policy: error records, retrying items singly, --max-failed
  files.py       record files: ownership via the settings sidecar, content-keyed resume
"""
