#!/usr/bin/env bash
# The step after retrain_all.sh: tune ShiftDC on the rebuilt testbed (built-in 'tune'
# split, all 52 + 52 requests, ground-truth captions), store the recommendation with the
# shipped direction, then measure every cell on the held-out 'eval' split: the default and
# the recommended configuration, ECSO, AdaShield, and the other built-in image attacks.
# Run from the repo root:  testbed_training/tune_eval.sh OUT_DIR TESTBED_DIR
#   WEIGHTS  weights folder whose direction/ receives the recommendation (default: the package's)
#   DEVICE   cpu | cuda (default: cuda when present)     PYTHON  interpreter (default: python)
#   N        requests per kind in the eval cells (default 104: all of 'eval')
#   LIMIT    requests per kind to tune on (default 0: all of 'tune')     BATCH  batch size (8)
#   UTILITY  yes/no questions for the utility check (default 32)
#   LAYERS / ALPHAS / POSITIONS  the grid (defaults below: 6 layer ranges, four of them
#            disjoint windows, x 4 strengths x 2 position sets = 48 configurations)
#   CELLS    measure's cell set (default extra: all but the core cells retrain_all.sh measured)
#   ONLY     substrings of the cell names to keep (quick smoke runs)
# Writes OUT_DIR/tune (table, pareto.png, recommendation.json, records) and OUT_DIR/eval
# (table.json, refusal.png, records per cell).
set -euo pipefail
OUT=${1:?usage: testbed_training/tune_eval.sh OUT_DIR TESTBED_DIR}
TB=${2:?usage: testbed_training/tune_eval.sh OUT_DIR TESTBED_DIR}
PY=${PYTHON:-python}
W=${WEIGHTS:-src/shiftdc/testbed/weights}
N=${N:-104}
LIMIT=${LIMIT:-0}
UTILITY=${UTILITY:-32}
BATCH=${BATCH:-8}
LAYERS=${LAYERS:-0:7,8:15,16:22,23:29,8:29,15:29}
ALPHAS=${ALPHAS:-0.5,1,2,4}
POSITIONS=${POSITIONS:-last,all}
CELLS=${CELLS:-extra}
read -r -a ONLY_ARGS <<< "${ONLY:+--only ${ONLY}}"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DEV=${DEVICE:-$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")}
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }

stamp "1/2 tune on the 'tune' split: layers $LAYERS x alpha $ALPHAS x positions $POSITIONS"
"$PY" -m shiftdc tune --model "$TB" --direction "$W/direction" --out "$OUT/tune" \
  --layers "$LAYERS" --alpha "$ALPHAS" --positions "$POSITIONS" --modes paper \
  --limit "$LIMIT" --utility "$UTILITY" --captions given --device "$DEV" --dtype float32 --batch-size "$BATCH" --quiet
stamp "2/2 eval split, n=$N per kind, cells: $CELLS"
"$PY" -m shiftdc measure-testbed --model "$TB" --out "$OUT/eval" -n "$N" --cells "$CELLS" \
  --direction "$W/direction" --device "$DEV" --batch-size "$BATCH" "${ONLY_ARGS[@]}"
stamp "done"
